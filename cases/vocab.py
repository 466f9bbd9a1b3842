"""The fixed vocabularies of the cases package, with the service standard's Chinese labels.

Values are stored as plain strings (with CHECK constraints in the schema); these `StrEnum`s compare
equal to those strings, so callers may pass either.
"""

from __future__ import annotations

from enum import StrEnum


class _Labelled(StrEnum):
    @property
    def label_zh(self) -> str:
        return _LABELS_ZH.get(type(self), {}).get(self.value, self.value)


class CustomerKind(_Labelled):
    SHIPPER = "shipper"
    CONSIGNEE = "consignee"
    KEY_ACCOUNT = "key_account"
    BRANCH = "branch"
    DRIVER = "driver"
    MARKET = "market"
    OTHER = "other"


class CaseKind(_Labelled):
    INQUIRY = "inquiry"
    TRACKING = "tracking"
    COMPLAINT = "complaint"
    CHANGE_REQUEST = "change_request"
    CLAIM = "claim"


class CaseStatus(_Labelled):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    REFERRED = "referred"
    RESOLVED = "resolved"
    CLOSED = "closed"


class Priority(_Labelled):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class Department(_Labelled):
    BRANCH = "branch"
    MARKET_AREA = "market_area"
    TRUNK_VEHICLE = "trunk_vehicle"
    WAREHOUSE = "warehouse"
    SETTLEMENT = "settlement"
    PAYMENT = "payment"
    INVOICING = "invoicing"
    KEY_ACCOUNT = "key_account"


class Speaker(_Labelled):
    CALLER = "caller"
    AGENT = "agent"
    MIXED = "mixed"


class Role(_Labelled):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    CLAIMS = "claims"
    INSPECTOR = "inspector"
    ADMIN = "admin"


OPEN_STATUSES: frozenset[CaseStatus] = frozenset({CaseStatus.OPEN, CaseStatus.IN_PROGRESS, CaseStatus.REFERRED})

# Which status may follow which. A closed case is final; a resolved one may be reopened.
TRANSITIONS: dict[CaseStatus, frozenset[CaseStatus]] = {
    CaseStatus.OPEN: frozenset({CaseStatus.IN_PROGRESS, CaseStatus.REFERRED, CaseStatus.RESOLVED, CaseStatus.CLOSED}),
    CaseStatus.IN_PROGRESS: frozenset({CaseStatus.REFERRED, CaseStatus.RESOLVED, CaseStatus.CLOSED}),
    CaseStatus.REFERRED: frozenset({CaseStatus.IN_PROGRESS, CaseStatus.RESOLVED, CaseStatus.CLOSED}),
    CaseStatus.RESOLVED: frozenset({CaseStatus.IN_PROGRESS, CaseStatus.CLOSED}),
    CaseStatus.CLOSED: frozenset(),
}

_LABELS_ZH: dict[type[StrEnum], dict[str, str]] = {
    CustomerKind: {
        "shipper": "发货人",
        "consignee": "收货人",
        "key_account": "大客户",
        "branch": "分公司",
        "driver": "司机",
        "market": "市场人员",
        "other": "其他",
    },
    CaseKind: {
        "inquiry": "咨询",
        "tracking": "查询",
        "complaint": "投诉",
        "change_request": "变更收货人/电话",
        "claim": "理赔",
    },
    CaseStatus: {
        "open": "待处理",
        "in_progress": "处理中",
        "referred": "已转交",
        "resolved": "已解决",
        "closed": "已关闭",
    },
    Priority: {"low": "低", "normal": "普通", "high": "高", "urgent": "紧急"},
    Department: {
        "branch": "分公司",
        "market_area": "市场区域",
        "trunk_vehicle": "干线车辆",
        "warehouse": "仓管",
        "settlement": "结算",
        "payment": "兑付",
        "invoicing": "开票",
        "key_account": "大客户项目主管",
    },
    Speaker: {"caller": "来电人", "agent": "客服员", "mixed": "混合"},
    Role: {
        "agent": "客服员",
        "supervisor": "客服主管",
        "claims": "理赔",
        "inspector": "监察主管",
        "admin": "管理员",
    },
}


def values(enum: type[StrEnum]) -> tuple[str, ...]:
    return tuple(m.value for m in enum)
