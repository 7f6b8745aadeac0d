"""AWS words to Ladder words: offering ids, terms, payment options, platforms, sizes.

Ladder's AWS offering ids follow the sample provider's:

========================  ===============================================
kind                      id
========================  ===============================================
Standard RI               ``ri-std-<1y|3y>-<nu|pu|au>/<region>/<family>/linux``
Convertible RI            ``ri-conv-<1y|3y>-<nu|pu|au>/<region>/<family>/linux``
EC2 Instance Savings Plan ``sp-ec2-<1y|3y>-<nu|pu|au>/<region>/<family>``
Compute Savings Plan      ``sp-compute-<1y|3y>-<nu|pu|au>``
========================  ===============================================

An owned commitment's offering id is its kind's id followed by ``@<AWS id>``:
it carries its own prices, which may differ from today's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from core.domain import PaymentOption, UsageKey
from providers.focus.compute import NORMALISATION_FACTORS, PLATFORM_BY_OPERATION

TERM_SECONDS: dict[str, int] = {"1y": 31_536_000, "3y": 94_608_000}
"""AWS terms in seconds (365 and 3 × 365 days), as ``Duration``/``durationSeconds`` give them."""
TERM_BY_SECONDS: dict[int, str] = {seconds: code for code, seconds in TERM_SECONDS.items()}

PAYMENT_CODES: dict[str, str] = {"No Upfront": "nu", "Partial Upfront": "pu",
                                 "All Upfront": "au"}
"""AWS payment option (RI ``OfferingType``, SP ``paymentOption``) to the id's code."""
PAYMENT_BY_CODE: dict[str, str] = {code: name for name, code in PAYMENT_CODES.items()}
PAYMENT_OPTIONS: dict[str, PaymentOption] = {
    "nu": PaymentOption.NO_UPFRONT,
    "pu": PaymentOption.PARTIAL_UPFRONT,
    "au": PaymentOption.ALL_UPFRONT,
}
UPFRONT_FRACTION: dict[str, float] = {"nu": 0.0, "pu": 0.5, "au": 1.0}
"""Share of a Savings Plan paid up front per payment code (AWS's default split for partial)."""

RI_CLASSES: dict[str, str] = {"standard": "std", "convertible": "conv"}
RI_CLASS_BY_CODE: dict[str, str] = {code: name for name, code in RI_CLASSES.items()}
SP_TYPES: dict[str, str] = {"Compute": "compute", "EC2Instance": "ec2"}
SP_TYPE_BY_CODE: dict[str, str] = {code: name for name, code in SP_TYPES.items()}

OPERATION_BY_PLATFORM: dict[str, str] = {
    platform: operation for operation, platform in PLATFORM_BY_OPERATION.items()
}
"""Usage-key platform to the RunInstances operation code of the price list and SP rates."""
RI_PRODUCT_DESCRIPTION: dict[str, str] = {"linux": "Linux/UNIX"}
"""Platforms whose regional RIs are size-flexible, with their RI product description."""
TENANCY_PRICING: dict[str, str] = {"shared": "Shared", "dedicated": "Dedicated"}
TENANCY_RI: dict[str, str] = {"shared": "default", "dedicated": "dedicated"}
TENANCY_BY_USAGE_TYPE: dict[str, str] = {"BoxUsage": "shared", "DedicatedUsage": "dedicated"}

_ORDER_TERM = {"3y": 0, "1y": 3}
_ORDER_PAYMENT = {"au": 0, "pu": 1, "nu": 2}
_ORDER_BASE = {"ri-std": 0, "ri-conv": 6, "sp-ec2": 100, "sp-compute": 200}
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")


@dataclass(frozen=True, slots=True)
class RiId:
    """The parts of a Reserved Instance offering id."""

    offering_class: str  # "standard" | "convertible"
    term: str  # "1y" | "3y"
    payment: str  # "nu" | "pu" | "au"
    region: str
    family: str
    platform: str = "linux"

    def __str__(self) -> str:
        return (f"ri-{RI_CLASSES[self.offering_class]}-{self.term}-{self.payment}"
                f"/{self.region}/{self.family}/{self.platform}")

    @property
    def order(self) -> int:
        """Application order: 3-year before 1-year, deeper upfront first, standard first."""
        return offering_order(f"ri-{RI_CLASSES[self.offering_class]}", self.term, self.payment)


@dataclass(frozen=True, slots=True)
class SpId:
    """The parts of a Savings Plan offering id (``region``/``family`` only for EC2 Instance)."""

    plan_type: str  # "Compute" | "EC2Instance"
    term: str
    payment: str
    region: str | None = None
    family: str | None = None

    def __str__(self) -> str:
        head = f"sp-{SP_TYPES[self.plan_type]}-{self.term}-{self.payment}"
        return f"{head}/{self.region}/{self.family}" if self.plan_type == "EC2Instance" else head

    @property
    def order(self) -> int:
        """Application order: EC2 Instance (narrower) before Compute, then as for RIs."""
        return offering_order(f"sp-{SP_TYPES[self.plan_type]}", self.term, self.payment)


def offering_order(kind: str, term: str, payment: str) -> int:
    """The catalog ``order`` of an offering of ``kind`` (``ri-std``, ``sp-compute`` …)."""
    return _ORDER_BASE[kind] + _ORDER_TERM[term] + _ORDER_PAYMENT[payment]


_RI_ID = re.compile(
    r"^ri-(?P<cls>std|conv)-(?P<term>1y|3y)-(?P<pay>nu|pu|au)"
    r"/(?P<region>[a-z0-9-]+)/(?P<family>[a-z0-9-]+)/(?P<platform>[a-z_]+)$"
)
_SP_ID = re.compile(
    r"^sp-(?P<type>compute|ec2)-(?P<term>1y|3y)-(?P<pay>nu|pu|au)"
    r"(?:/(?P<region>[a-z0-9-]+)/(?P<family>[a-z0-9-]+))?$"
)


def parse_offering_id(offering_id: str) -> RiId | SpId:
    """Parse a Ladder AWS offering id (an owned one's ``@<AWS id>`` suffix is ignored)."""
    text = offering_id.split("@", 1)[0]
    if match := _RI_ID.match(text):
        return RiId(RI_CLASS_BY_CODE[match["cls"]], match["term"], match["pay"],
                    match["region"], match["family"], match["platform"])
    if match := _SP_ID.match(text):
        plan_type = SP_TYPE_BY_CODE[match["type"]]
        if (plan_type == "EC2Instance") != (match["region"] is not None):
            raise ValueError(f"{offering_id!r}: only EC2 Instance Savings Plans name a "
                             "region and family")
        return SpId(plan_type, match["term"], match["pay"], match["region"], match["family"])
    raise ValueError(f"{offering_id!r} is not an AWS offering id of Ladder "
                     "(ri-std-1y-nu/us-east-1/m5/linux, sp-compute-3y-au, ...)")


def family_of(instance_type: str) -> str:
    """The family of an instance type: ``m5`` for ``m5.large``."""
    return instance_type.split(".", 1)[0]


def size_factor(instance_type: str) -> float | None:
    """AWS's normalisation factor from the size name (None for ``metal`` and unknown sizes)."""
    size = instance_type.split(".", 1)[1] if "." in instance_type else ""
    if size in NORMALISATION_FACTORS:
        return NORMALISATION_FACTORS[size]
    if match := re.fullmatch(r"([1-9][0-9]*)xlarge", size):
        return 8.0 * int(match.group(1))
    return None


def is_region_code(text: str) -> bool:
    """Whether ``text`` looks like an AWS region code (``us-east-1``), not a location name."""
    return bool(_REGION.match(text))


def ec2_key(key: str) -> UsageKey | None:
    """The parsed usage key when it is AWS EC2 usage, else None."""
    try:
        parsed = UsageKey.parse(key)
    except ValueError:
        return None
    return parsed if parsed.provider == "aws" and parsed.service == "ec2" else None


def parse_time(value: datetime | str | None) -> datetime | None:
    """A UTC datetime from botocore (a datetime) or a Savings Plans string (ISO 8601)."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def iso_utc(moment: datetime) -> str:
    """ISO 8601 in UTC with a ``Z``, as AWS writes timestamps."""
    utc = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%SZ")
