"""Demo data for `seed_demo`: customers whose phones the PBX simulator calls from, shipments with
real-looking 12-digit waybills and Chinese status histories, and demo users."""

from __future__ import annotations

from dataclasses import dataclass

from cases.vocab import CaseKind, CaseStatus, CustomerKind, Department, Priority, Role

DEMO_PASSWORD = "hotline-demo"

# The 12-digit waybills seeded by seed_demo, for the simulator and demos to "type" into the IVR.
DEMO_WAYBILLS: tuple[str, ...] = tuple(f"8000123456{n:02d}" for n in range(78, 88))

# The simulator's known callers (4930555100N); 4930555101N callers stay unknown on purpose.
DEMO_PHONES: tuple[str, ...] = tuple(f"4930555100{n}" for n in range(1, 7))

# The status stages of a shipment, in order.
STAGES: tuple[str, ...] = ("已揽收", "运输中", "到达分拨中心", "派送中", "已签收")


@dataclass(frozen=True, slots=True)
class DemoCustomer:
    key: str
    name: str
    kind: CustomerKind
    phones: tuple[str, ...]
    note: str = ""


@dataclass(frozen=True, slots=True)
class DemoShipment:
    waybill: str
    shipper: str  # DemoCustomer.key
    consignee_name: str
    consignee_phone: str
    origin: str
    destination: str
    stages_done: int  # how many of STAGES it has passed
    days_ago: int  # when it was picked up


@dataclass(frozen=True, slots=True)
class DemoCase:
    subject: str
    kind: CaseKind
    customer: str  # DemoCustomer.key
    waybill: str | None
    status: CaseStatus
    priority: Priority
    description: str
    department: Department | None = None
    follow_up_hours: int | None = None


@dataclass(frozen=True, slots=True)
class DemoUser:
    username: str
    display_name: str
    role: Role
    branch: str = ""  # role branch: its branch
    department: str | None = None  # role branch: its department (default branch)


DEMO_CUSTOMERS: tuple[DemoCustomer, ...] = (
    DemoCustomer("zhangwei", "张伟", CustomerKind.SHIPPER, ("49305551001", "13800138001"), "常发郑州线"),
    DemoCustomer("lina", "李娜", CustomerKind.CONSIGNEE, ("49305551002",)),
    DemoCustomer(
        "huatong",
        "华通电子有限公司",
        CustomerKind.KEY_ACCOUNT,
        ("49305551003", "02162345678"),
        "大客户，月结",
    ),
    DemoCustomer("zhengzhou", "路港物流郑州分公司", CustomerKind.BRANCH, ("49305551004",)),
    DemoCustomer("liuqiang", "刘强", CustomerKind.DRIVER, ("49305551005", "13900139005"), "干线司机 豫A12345"),
    DemoCustomer("chenjing", "陈静", CustomerKind.SHIPPER, ("49305551006",)),
    DemoCustomer("zhaolei", "赵磊", CustomerKind.MARKET, ("13700137007",), "上海市场区域"),
    DemoCustomer("sunli", "孙丽", CustomerKind.CONSIGNEE, ("13600136008",)),
)

_W = DEMO_WAYBILLS
DEMO_SHIPMENTS: tuple[DemoShipment, ...] = (
    DemoShipment(_W[0], "zhangwei", "李娜", "49305551002", "上海", "郑州", 3, 2),
    DemoShipment(_W[1], "zhangwei", "孙丽", "13600136008", "上海", "成都", 5, 6),
    DemoShipment(_W[2], "zhangwei", "王磊", "13500135009", "上海", "武汉", 1, 0),
    DemoShipment(_W[3], "huatong", "李娜", "49305551002", "深圳", "郑州", 4, 3),
    DemoShipment(_W[4], "huatong", "周敏", "13300133010", "深圳", "北京", 2, 1),
    DemoShipment(_W[5], "huatong", "吴刚", "13200132011", "深圳", "西安", 5, 9),
    DemoShipment(_W[6], "chenjing", "孙丽", "13600136008", "杭州", "南京", 5, 4),
    DemoShipment(_W[7], "chenjing", "郑洁", "13100131012", "杭州", "广州", 2, 1),
    DemoShipment(_W[8], "zhengzhou", "黄勇", "13000130013", "郑州", "上海", 3, 2),
    DemoShipment(_W[9], "zhaolei", "马超", "18900189014", "上海", "杭州", 1, 0),
)

DEMO_CASES: tuple[DemoCase, ...] = (
    DemoCase(
        subject="货物延误，客户要求尽快派送",
        kind=CaseKind.COMPLAINT,
        customer="zhangwei",
        waybill=_W[0],
        status=CaseStatus.REFERRED,
        priority=Priority.HIGH,
        description="客户反映货物已到郑州分拨中心两天仍未派送，要求今天送达。已转郑州分公司跟进。",
        department=Department.BRANCH,
        follow_up_hours=24,
    ),
    DemoCase(
        subject="更改收货人联系电话",
        kind=CaseKind.CHANGE_REQUEST,
        customer="huatong",
        waybill=_W[4],
        status=CaseStatus.OPEN,
        priority=Priority.NORMAL,
        description="大客户要求将收货人电话改为 13300133099。",
    ),
    DemoCase(
        subject="咨询上海到杭州运价",
        kind=CaseKind.INQUIRY,
        customer="zhaolei",
        waybill=None,
        status=CaseStatus.RESOLVED,
        priority=Priority.LOW,
        description="已告知标准运价及时效。",
    ),
)

DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("agent1001", "安娜", Role.AGENT),
    DemoUser("agent1002", "本", Role.AGENT),
    DemoUser("agent1003", "陈", Role.AGENT),
    DemoUser("supervisor", "主管", Role.SUPERVISOR),
    DemoUser("claims", "王芳", Role.CLAIMS),
    DemoUser("inspector", "刘强", Role.INSPECTOR),
    DemoUser("branch_zz", "赵敏", Role.BRANCH, "郑州分公司"),
    DemoUser("warehouse", "孙丽", Role.BRANCH, "", "warehouse"),  # 仓管: the warehouse's referrals
)
