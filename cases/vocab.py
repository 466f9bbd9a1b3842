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
    # department staff (分公司, 市场区域, 仓管, 结算, 兑付, 开票, 大客户, 干线车辆: users.department, and
    # users.branch the unit for a branch or market area): answer the referrals routed to their department
    BRANCH = "branch"


OPEN_STATUSES: frozenset[CaseStatus] = frozenset({CaseStatus.OPEN, CaseStatus.IN_PROGRESS, CaseStatus.REFERRED})

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
        "change_request": "更改收货人/联系电话",
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
        "branch": "部门/分公司人员",
    },
}


def values(enum: type[StrEnum]) -> tuple[str, ...]:
    return tuple(m.value for m in enum)


# ---------------------------------------------------------------- workflows (complaints, claims, inspections)


class ComplaintType(_Labelled):
    DELAY = "delay"
    DAMAGE = "damage"
    LOSS = "loss"
    ATTITUDE = "attitude"
    WRONG_DELIVERY = "wrong_delivery"
    CHARGES = "charges"
    OTHER = "other"


class ComplaintCause(_Labelled):
    STAFF_ATTITUDE = "staff_attitude"
    OPERATION_ERROR = "operation_error"
    TRANSPORT_DELAY = "transport_delay"
    HANDLING = "handling"
    COMMUNICATION = "communication"
    SYSTEM_FAILURE = "system_failure"
    CUSTOMER_SIDE = "customer_side"
    OTHER = "other"


class ComplaintStage(_Labelled):
    RECORDED = "recorded"
    ANALYSED = "analysed"
    REFERRED = "referred"
    RECTIFIED = "rectified"  # the department answered with its rectification (整改): the centre verifies it
    VERIFIED = "verified"  # the centre verified the rectification (验证)
    CUSTOMER_TOLD = "customer_told"
    FOLLOWED_UP = "followed_up"  # the follow-up call (回访) reached the customer, or 3 attempts did not
    CLOSED = "closed"


# departments whose referrals go to one unit of theirs (which branch, which market area)
UNIT_DEPARTMENTS: frozenset[str] = frozenset({"branch", "market_area"})


class FollowUpOutcome(_Labelled):
    """The follow-up call (回访) to the customer after telling them the result."""

    SATISFIED = "satisfied"
    UNSATISFIED = "unsatisfied"
    UNREACHABLE = "unreachable"


class ClaimStage(_Labelled):
    REPORTED = "reported"
    INVESTIGATING = "investigating"
    LIABILITY_FIXED = "liability_fixed"
    NEGOTIATING = "negotiating"
    AMOUNT_AGREED = "amount_agreed"
    PARTIES_NOTIFIED = "parties_notified"
    PAID = "paid"
    CLOSED = "closed"  # paid, then closed
    REFUSED = "refused"  # ended: the claim is refused (拒赔), with the reason
    WITHDRAWN = "withdrawn"  # ended: the customer withdrew it (撤案), with the reason


class MajorStatus(_Labelled):
    """重大事故: the amount (or the reporter) only suggests it; a supervisor confirms or declines."""

    SUGGESTED = "suggested"
    CONFIRMED = "confirmed"
    DECLINED = "declined"


class ClaimChannel(_Labelled):
    HOTLINE = "hotline"
    AGENT = "agent"
    BRANCH = "branch"


class AccidentCause(_Labelled):
    HANDLING_DAMAGE = "handling_damage"
    PACKAGING = "packaging"
    TRAFFIC_ACCIDENT = "traffic_accident"
    LOSS = "loss"
    THEFT = "theft"
    WATER = "water"
    FIRE = "fire"
    SHORTAGE = "shortage"
    MISDELIVERY = "misdelivery"
    DELAY = "delay"
    OTHER = "other"


class LiableParty(_Labelled):
    BRANCH = "branch"
    MARKET_AREA = "market_area"
    TRUNK_VEHICLE = "trunk_vehicle"
    LOADER = "loader"
    WAREHOUSE = "warehouse"
    THIRD_PARTY = "third_party"
    CUSTOMER = "customer"


class OfferBy(_Labelled):
    COMPANY = "company"
    CUSTOMER = "customer"


class InsurerStatus(_Labelled):
    FILED = "filed"
    UNDER_REVIEW = "under_review"
    APPROVED = "approved"
    REJECTED = "rejected"
    PAID = "paid"


class ChangeField(_Labelled):
    CONSIGNEE_NAME = "consignee_name"
    CONSIGNEE_PHONE = "consignee_phone"
    CONSIGNEE_ADDRESS = "consignee_address"


class ChangeStage(_Labelled):
    REQUESTED = "requested"
    APPLIED = "applied"
    REJECTED = "rejected"


class InspectionKind(_Labelled):
    FREIGHT_RATE = "freight_rate"
    SERVICE_STANDARD = "service_standard"
    LABOUR_DISCIPLINE = "labour_discipline"
    STAFF_APPEARANCE = "staff_appearance"
    VEHICLE_APPEARANCE = "vehicle_appearance"
    FUND_TRANSFER = "fund_transfer"
    COD_HANDIN = "cod_handin"
    FREIGHT_HANDIN = "freight_handin"


class FindingStage(_Labelled):
    OPEN = "open"
    RECTIFIED = "rectified"
    VERIFIED = "verified"


class SanctionKind(_Labelled):
    REWARD = "reward"
    PENALTY = "penalty"


class SettledBy(_Labelled):
    MARKET = "market"
    BRANCH = "branch"
    DRIVER = "driver"
    LOADER = "loader"


_LABELS_ZH.update(
    {
        ComplaintType: {
            "delay": "延误",
            "damage": "破损",
            "loss": "丢失",
            "attitude": "服务态度",
            "wrong_delivery": "错发错送",
            "charges": "运费争议",
            "other": "其他",
        },
        ComplaintCause: {
            "staff_attitude": "员工态度",
            "operation_error": "操作失误",
            "transport_delay": "运输延误",
            "handling": "装卸不当",
            "communication": "沟通不畅",
            "system_failure": "系统故障",
            "customer_side": "客户原因",
            "other": "其他",
        },
        ComplaintStage: {
            "recorded": "已登记",
            "analysed": "已分析",
            "referred": "已转交",
            "rectified": "已反馈整改",
            "verified": "整改已验证",
            "customer_told": "已回复客户",
            "followed_up": "已回访",
            "closed": "已关闭",
        },
        FollowUpOutcome: {"satisfied": "满意", "unsatisfied": "不满意", "unreachable": "联系不上"},
        ClaimStage: {
            "reported": "已报案",
            "investigating": "调查中",
            "liability_fixed": "责任已明确",
            "negotiating": "协商中",
            "amount_agreed": "金额已确定",
            "parties_notified": "已通知责任方",
            "paid": "已赔付",
            "closed": "已结案",
            "refused": "拒赔",
            "withdrawn": "客户撤回",
        },
        MajorStatus: {"suggested": "待主管确认", "confirmed": "已确认", "declined": "不属重大事故"},
        ClaimChannel: {"hotline": "理赔热线", "agent": "客服员", "branch": "分公司"},
        AccidentCause: {
            "handling_damage": "装卸破损",
            "packaging": "包装不良",
            "traffic_accident": "交通事故",
            "loss": "丢失",
            "theft": "被盗",
            "water": "雨淋受潮",
            "fire": "火灾",
            "shortage": "短少",
            "misdelivery": "错发错送",
            "delay": "延误",
            "other": "其他",
        },
        LiableParty: {
            "branch": "分公司",
            "market_area": "市场区域",
            "trunk_vehicle": "干线车辆/司机",
            "loader": "装卸工",
            "warehouse": "仓管",
            "third_party": "第三方",
            "customer": "客户",
        },
        OfferBy: {"company": "公司", "customer": "客户"},
        InsurerStatus: {
            "filed": "已报保险",
            "under_review": "审核中",
            "approved": "已核准",
            "rejected": "已拒赔",
            "paid": "已赔付",
        },
        ChangeField: {"consignee_name": "收货人", "consignee_phone": "收货人电话", "consignee_address": "收货地址"},
        ChangeStage: {"requested": "待审批", "applied": "已更改", "rejected": "已驳回"},
        InspectionKind: {
            "freight_rate": "市场运价",
            "service_standard": "服务规范",
            "labour_discipline": "劳动纪律",
            "staff_appearance": "仪容仪表",
            "vehicle_appearance": "车容车貌",
            "fund_transfer": "分公司转款",
            "cod_handin": "代收货款上交",
            "freight_handin": "运费上交",
        },
        FindingStage: {"open": "待整改", "rectified": "已整改", "verified": "已验证"},
        SanctionKind: {"reward": "奖励", "penalty": "处罚"},
        SettledBy: {"market": "市场", "branch": "分公司", "driver": "司机", "loader": "装卸工"},
    }
)


# ---------------------------------------------------------------- incidents (突发事件, 监察主管9)


class IncidentKind(_Labelled):
    TRAFFIC_ACCIDENT = "traffic_accident"
    FIRE = "fire"
    THEFT_ROBBERY = "theft_robbery"
    MASS_INCIDENT = "mass_incident"
    SYSTEM_FAILURE = "system_failure"  # 5.3: 系统、网络运行不正常给客户带来不便或损失
    OTHER = "other"


class IncidentStage(_Labelled):
    REPORTED = "reported"
    HANDLING = "handling"
    CLOSED = "closed"


class SanctionSource(_Labelled):
    """Where a reward or penalty (奖罚) comes from."""

    INSPECTION = "inspection"
    COMPLAINT = "complaint"
    CLAIM = "claim"
    INCIDENT = "incident"


_LABELS_ZH.update(
    {
        IncidentKind: {
            "traffic_accident": "交通事故",
            "fire": "火灾",
            "theft_robbery": "盗抢",
            "mass_incident": "群体事件",
            "system_failure": "系统、网络故障",
            "other": "其他",
        },
        IncidentStage: {"reported": "已上报", "handling": "处理中", "closed": "已处理完毕"},
        SanctionSource: {"inspection": "监察", "complaint": "投诉", "claim": "理赔", "incident": "突发事件"},
    }
)
