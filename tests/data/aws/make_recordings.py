"""Write the recorded AWS responses of ``tests/data/aws`` (hand-made, in the models' shapes).

The responses are not from a real account: they are written here, in the exact
shapes of botocore's service models (the replay's ``Stubber`` validates each one),
with prices close to the public us-east-1 prices of 2024. Run it after changing
what a test expects, then review the diff of the JSON files::

    python tests/data/aws/make_recordings.py            # rewrites the folders it knows
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import uuid
from pathlib import Path
from typing import Any

OUT = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent
NS = uuid.UUID("3b7c0d1e-5a2f-4c8e-9d61-4c6164646572")
ACCT_A = "111122223333"
ACCT_B = "444455556666"
KEY = "plan-42/action-1"
TOKEN_NS = uuid.UUID("6f1c5a56-4d0e-4b4f-9a57-6c6164646572")


def uid(name: str) -> str:
    return str(uuid.uuid5(NS, name))


def sku(name: str) -> str:
    digest = hashlib.sha256(name.encode()).hexdigest().upper()
    return "".join(c for c in digest if c.isalnum())[:16]


def meta(name: str, status: int = 200) -> dict[str, Any]:
    return {"RequestId": uid("request:" + name), "HTTPStatusCode": status,
            "HTTPHeaders": {"content-type": "text/xml;charset=UTF-8"}, "RetryAttempts": 0}


class Folder:
    def __init__(self, name: str) -> None:
        self.path = OUT / name
        if self.path.exists():
            shutil.rmtree(self.path)
        self.path.mkdir(parents=True)
        self.n = 0

    def ok(self, service: str, op: str, data: dict[str, Any], expected: Any = None,
           region: str | None = None) -> None:
        self.n += 1
        record: dict[str, Any] = {}
        if region:
            record["region"] = region
        if expected is not None:
            record["expected_params"] = expected
        body = dict(data)
        body["ResponseMetadata"] = meta(f"{self.path.name}:{self.n}")
        record["status_code"] = 200
        record["data"] = body
        self._write(service, op, record)

    def error(self, service: str, op: str, status: int, code: str, message: str,
              expected: Any = None) -> None:
        self.n += 1
        record: dict[str, Any] = {}
        if expected is not None:
            record["expected_params"] = expected
        record["status_code"] = status
        record["data"] = {"Error": {"Code": code, "Message": message},
                          "ResponseMetadata": meta(f"{self.path.name}:{self.n}", status)}
        self._write(service, op, record)

    def _write(self, service: str, op: str, record: dict[str, Any]) -> None:
        path = self.path / f"{self.n:02d}-{service}.{op}.json"
        path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


# --- the price list ------------------------------------------------------------------

SPECS = {  # instance type: (vcpu, memory, family label, processor)
    "m5.large": ("2", "8 GiB", "General purpose"),
    "m5.xlarge": ("4", "16 GiB", "General purpose"),
    "m5.2xlarge": ("8", "32 GiB", "General purpose"),
    "m5.metal": ("96", "384 GiB", "General purpose"),
    "c5.large": ("2", "4 GiB", "Compute optimized"),
    "c5.2xlarge": ("8", "16 GiB", "Compute optimized"),
    "c5.metal": ("96", "192 GiB", "Compute optimized"),
}
OS = {"linux": ("Linux", "RunInstances", "No License required"),
      "windows": ("Windows", "RunInstances:0002", "License included")}


def product(instance_type: str, factor: str, price: float, platform: str = "linux",
            reserved: bool = False) -> str:
    os_name, operation, license_model = OS[platform]
    code = sku(f"{instance_type}:{platform}")
    vcpu, memory, label = SPECS[instance_type]
    attributes = {
        "enhancedNetworkingSupported": "Yes", "intelTurboAvailable": "Yes", "memory": memory,
        "dedicatedEbsThroughput": "Up to 4750 Mbps", "vcpu": vcpu,
        "classicnetworkingsupport": "false", "capacitystatus": "Used",
        "locationType": "AWS Region", "storage": "EBS only", "instanceFamily": label,
        "operatingSystem": os_name, "intelAvx2Available": "Yes", "regionCode": "us-east-1",
        "physicalProcessor": "Intel Xeon Platinum 8175", "clockSpeed": "3.1 GHz",
        "ecu": "NA", "networkPerformance": "Up to 10 Gigabit",
        "servicename": "Amazon Elastic Compute Cloud", "gpuMemory": "NA",
        "vpcnetworkingsupport": "true", "instanceType": instance_type, "tenancy": "Shared",
        "usagetype": f"BoxUsage:{instance_type}", "normalizationSizeFactor": factor,
        "intelAvxAvailable": "Yes",
        "processorFeatures": "Intel AVX; Intel AVX2; Intel AVX512; Intel Turbo",
        "servicecode": "AmazonEC2", "licenseModel": license_model, "currentGeneration": "Yes",
        "preInstalledSw": "NA", "location": "US East (N. Virginia)",
        "processorArchitecture": "64-bit", "marketoption": "OnDemand", "operation": operation,
        "availabilityzone": "NA",
    }
    terms: dict[str, Any] = {"OnDemand": {f"{code}.JRTCKXETXF": {
        "priceDimensions": {f"{code}.JRTCKXETXF.6YS6EN2CT7": {
            "unit": "Hrs", "endRange": "Inf",
            "description": f"${price:.3f} per On Demand {os_name} {instance_type} Instance Hour",
            "appliesTo": [], "rateCode": f"{code}.JRTCKXETXF.6YS6EN2CT7", "beginRange": "0",
            "pricePerUnit": {"USD": f"{price:.10f}"}}},
        "sku": code, "effectiveDate": "2024-08-01T00:00:00Z", "offerTermCode": "JRTCKXETXF",
        "termAttributes": {}}}}
    if reserved:
        terms["Reserved"] = {f"{code}.4NA7Y494T4": {
            "priceDimensions": {f"{code}.4NA7Y494T4.6YS6EN2CT7": {
                "unit": "Hrs", "endRange": "Inf",
                "description": f"Linux/UNIX (Amazon VPC), {instance_type} reserved instance "
                               "applied",
                "appliesTo": [], "rateCode": f"{code}.4NA7Y494T4.6YS6EN2CT7", "beginRange": "0",
                "pricePerUnit": {"USD": "0.0600000000"}}},
            "sku": code, "effectiveDate": "2024-08-01T00:00:00Z",
            "offerTermCode": "4NA7Y494T4",
            "termAttributes": {"LeaseContractLength": "1yr", "OfferingClass": "standard",
                               "PurchaseOption": "No Upfront"}}}
    return json.dumps({"product": {"productFamily": "Compute Instance",
                                   "attributes": attributes, "sku": code},
                       "serviceCode": "AmazonEC2", "terms": terms,
                       "version": "20240801184823", "publicationDate": "2024-08-01T18:48:23Z"})


def price_filters(family: str, platform: str) -> list[dict[str, str]]:
    return [
        {"Type": "TERM_MATCH", "Field": "regionCode", "Value": "us-east-1"},
        {"Type": "TERM_MATCH", "Field": "operation", "Value": OS[platform][1]},
        {"Type": "TERM_MATCH", "Field": "tenancy", "Value": "Shared"},
        {"Type": "TERM_MATCH", "Field": "capacitystatus", "Value": "Used"},
        {"Type": "CONTAINS", "Field": "instanceType", "Value": f"{family}."},
    ]


def products_request(family: str, platform: str, token: str | None = None) -> dict[str, Any]:
    request: dict[str, Any] = {"ServiceCode": "AmazonEC2",
                               "Filters": price_filters(family, platform),
                               "FormatVersion": "aws_v1", "MaxResults": 100}
    if token:
        request["NextToken"] = token
    return request


# --- RI offerings --------------------------------------------------------------------

YEAR = 31_536_000
THREE = 94_608_000
RI_PRICES = {  # (type, class, duration, payment): (fixed, hourly)
    ("m5.large", "standard", YEAR, "No Upfront"): (0.0, 0.060),
    ("m5.large", "standard", YEAR, "Partial Upfront"): (259.0, 0.030),
    ("m5.large", "standard", YEAR, "All Upfront"): (508.0, 0.0),
    ("m5.large", "standard", THREE, "No Upfront"): (0.0, 0.041),
    ("m5.large", "standard", THREE, "Partial Upfront"): (538.0, 0.020),
    ("m5.large", "standard", THREE, "All Upfront"): (1012.0, 0.0),
    ("m5.large", "convertible", YEAR, "No Upfront"): (0.0, 0.071),
    ("m5.large", "convertible", YEAR, "Partial Upfront"): (305.0, 0.035),
    ("m5.large", "convertible", YEAR, "All Upfront"): (598.0, 0.0),
    ("m5.large", "convertible", THREE, "No Upfront"): (0.0, 0.050),
    ("m5.large", "convertible", THREE, "Partial Upfront"): (643.0, 0.024),
    ("m5.large", "convertible", THREE, "All Upfront"): (1209.0, 0.0),
    ("c5.large", "standard", YEAR, "No Upfront"): (0.0, 0.054),
    ("c5.large", "standard", YEAR, "Partial Upfront"): (229.0, 0.026),
    ("c5.large", "standard", YEAR, "All Upfront"): (449.0, 0.0),
    ("c5.large", "standard", THREE, "No Upfront"): (0.0, 0.037),
    ("c5.large", "standard", THREE, "Partial Upfront"): (479.0, 0.018),
    ("c5.large", "standard", THREE, "All Upfront"): (906.0, 0.0),
    ("c5.large", "convertible", YEAR, "No Upfront"): (0.0, 0.064),
    ("c5.large", "convertible", YEAR, "Partial Upfront"): (273.0, 0.031),
    ("c5.large", "convertible", YEAR, "All Upfront"): (535.0, 0.0),
    ("c5.large", "convertible", THREE, "No Upfront"): (0.0, 0.044),
    ("c5.large", "convertible", THREE, "Partial Upfront"): (571.0, 0.022),
    ("c5.large", "convertible", THREE, "All Upfront"): (1075.0, 0.0),
}


def ri_offering_id(instance_type: str, cls: str, duration: int, payment: str) -> str:
    return uid(f"ri-offering:{instance_type}:{cls}:{duration}:{payment}")


def ri_offering(instance_type: str, cls: str, duration: int, payment: str,
                fixed: float | None = None) -> dict[str, Any]:
    price_fixed, hourly = RI_PRICES[(instance_type, cls, duration, payment)]
    return {
        "CurrencyCode": "USD", "InstanceTenancy": "default", "Marketplace": False,
        "OfferingClass": cls, "OfferingType": payment, "PricingDetails": [],
        "RecurringCharges": [{"Amount": hourly, "Frequency": "Hourly"}],
        "Scope": "Region",
        "ReservedInstancesOfferingId": ri_offering_id(instance_type, cls, duration, payment),
        "InstanceType": instance_type, "Duration": duration,
        "FixedPrice": price_fixed if fixed is None else fixed, "UsagePrice": 0.0,
        "ProductDescription": "Linux/UNIX",
    }


def ri_offerings(instance_type: str) -> list[dict[str, Any]]:
    return [ri_offering(t, c, d, p) for (t, c, d, p) in RI_PRICES if t == instance_type]


def offerings_request(instance_type: str, token: str | None = None) -> dict[str, Any]:
    request: dict[str, Any] = {
        "InstanceType": instance_type, "ProductDescription": "Linux/UNIX",
        "InstanceTenancy": "default", "IncludeMarketplace": False,
        "MinDuration": YEAR, "MaxDuration": THREE,
        "Filters": [{"Name": "scope", "Values": ["Region"]}], "MaxResults": 100,
    }
    if token:
        request["NextToken"] = token
    return request


# --- Savings Plans rates ---------------------------------------------------------------

PAYMENTS = ["No Upfront", "Partial Upfront", "All Upfront"]
SP_RATES = {  # (plan, family or None, type, platform): {(duration, payment): rate}
    ("Compute", None, "m5.large", "linux"): [0.068, 0.065, 0.064, 0.047, 0.045, 0.043],
    ("Compute", None, "c5.large", "linux"): [0.061, 0.058, 0.057, 0.042, 0.040, 0.039],
    ("Compute", None, "m5.large", "windows"): [0.160, 0.157, 0.156, 0.139, 0.137, 0.135],
    ("EC2Instance", "m5", "m5.large", "linux"): [0.060, 0.057, 0.056, 0.041, 0.039, 0.037],
    ("EC2Instance", "m5", "m5.large", "windows"): [0.152, 0.149, 0.148, 0.133, 0.131, 0.129],
    ("EC2Instance", "c5", "c5.large", "linux"): [0.054, 0.0515, 0.050, 0.037, 0.0355, 0.034],
}


def sp_offering_id(plan: str, family: str | None, duration: int, payment: str) -> str:
    return uid(f"sp-offering:{plan}:{family}:{duration}:{payment}")


def sp_description(plan: str, family: str | None, duration: int, payment: str) -> str:
    years = 1 if duration == YEAR else 3
    if plan == "Compute":
        return f"{years} year {payment} Compute Savings Plan"
    return f"{years} year {payment} {family} EC2 Instance Savings Plan in us-east-1"


def sp_rates() -> list[dict[str, Any]]:
    rates = []
    for (plan, family, instance_type, platform), values in SP_RATES.items():
        operation = OS[platform][1]
        for index, rate in enumerate(values):
            duration = YEAR if index < 3 else THREE
            payment = PAYMENTS[index % 3]
            rates.append({
                "savingsPlanOffering": {
                    "offeringId": sp_offering_id(plan, family, duration, payment),
                    "paymentOption": payment, "planType": plan, "durationSeconds": duration,
                    "currency": "USD",
                    "planDescription": sp_description(plan, family, duration, payment),
                },
                "rate": f"{rate}", "unit": "Hrs", "productType": "EC2",
                "serviceCode": "AmazonEC2", "usageType": f"BoxUsage:{instance_type}",
                "operation": operation,
                "properties": [
                    {"name": "region", "value": "us-east-1"},
                    {"name": "instanceType", "value": instance_type},
                    {"name": "instanceFamily", "value": instance_type.split(".")[0]},
                    {"name": "productDescription",
                     "value": "Linux/UNIX" if platform == "linux" else "Windows"},
                    {"name": "tenancy", "value": "shared"},
                ],
            })
    return rates


def rates_request(token: str | None = None) -> dict[str, Any]:
    request: dict[str, Any] = {
        "savingsPlanTypes": ["Compute", "EC2Instance"], "products": ["EC2"],
        "serviceCodes": ["AmazonEC2"], "operations": ["RunInstances", "RunInstances:0002"],
        "filters": [{"name": "region", "values": ["us-east-1"]},
                    {"name": "instanceType", "values": ["c5.large", "m5.large"]}],
        "maxResults": 1000,
    }
    if token:
        request["nextToken"] = token
    return request


def catalog_folder() -> None:
    catalog_calls(Folder("test_catalog_from_recorded_responses"))


def catalog_calls(f: Folder) -> None:
    token1 = "eyJsYXN0RXZhbHVhdGVkS2V5IjoiQzVQQVJUSUFMIn0="
    f.ok("pricing", "GetProducts", {"FormatVersion": "aws_v1", "PriceList": [
        product("c5.2xlarge", "16", 0.34), product("c5.large", "4", 0.085),
        product("c5.metal", "192", 4.08)]}, products_request("c5", "linux"))
    f.ok("pricing", "GetProducts", {"FormatVersion": "aws_v1", "PriceList": [
        product("m5.2xlarge", "16", 0.384), product("m5.large", "4", 0.096, reserved=True)],
        "NextToken": token1}, products_request("m5", "linux"))
    f.ok("pricing", "GetProducts", {"FormatVersion": "aws_v1", "PriceList": [
        product("m5.metal", "192", 4.608), product("m5.xlarge", "8", 0.192)]},
        products_request("m5", "linux", token1))
    f.ok("pricing", "GetProducts", {"FormatVersion": "aws_v1", "PriceList": [
        product("m5.large", "4", 0.188, "windows"), product("m5.xlarge", "8", 0.376, "windows")]},
        products_request("m5", "windows"))
    f.ok("pricing", "GetProducts", {"FormatVersion": "aws_v1", "PriceList": []},
         products_request("x9z", "linux"))
    c5 = ri_offerings("c5.large")
    m5 = ri_offerings("m5.large")
    token2 = "AAEAAeyI3MTExMmE4LTQ2ZTMtNDRmNi1hYjZkLTQxMWIwZDRmZGJiNSJ9"
    f.ok("ec2", "DescribeReservedInstancesOfferings", {"ReservedInstancesOfferings": c5},
         offerings_request("c5.large"))
    f.ok("ec2", "DescribeReservedInstancesOfferings",
         {"ReservedInstancesOfferings": m5[:8], "NextToken": token2},
         offerings_request("m5.large"))
    f.ok("ec2", "DescribeReservedInstancesOfferings", {"ReservedInstancesOfferings": m5[8:]},
         offerings_request("m5.large", token2))
    rates = sp_rates()
    token3 = "ZXlKdlptWnpaWFFpT2pJd2ZRPT0="
    f.ok("savingsplans", "DescribeSavingsPlansOfferingRates",
         {"searchResults": rates[:20], "nextToken": token3}, rates_request())
    f.ok("savingsplans", "DescribeSavingsPlansOfferingRates",
         {"searchResults": rates[20:]}, rates_request(token3))


# --- Reserved Instances owned ---------------------------------------------------------

def reserved_instance(ri_id: str, instance_type: str, cls: str, duration: int, payment: str,
                      count: int, start: str, end: str, state: str,
                      tags: dict[str, str] | None = None, product_description: str = "Linux/UNIX",
                      zone: str | None = None, fixed: float | None = None,
                      hourly: float | None = None) -> dict[str, Any]:
    price_fixed, price_hourly = RI_PRICES.get((instance_type, cls, duration, payment),
                                              (0.0, 0.0))
    ri: dict[str, Any] = {
        "CurrencyCode": "USD", "InstanceTenancy": "default", "OfferingClass": cls,
        "OfferingType": payment,
        "RecurringCharges": [{"Amount": price_hourly if hourly is None else hourly,
                              "Frequency": "Hourly"}],
        "Scope": "Availability Zone" if zone else "Region",
        "ReservedInstancesId": ri_id, "InstanceType": instance_type,
        "Start": start, "End": end, "Duration": duration, "UsagePrice": 0.0,
        "FixedPrice": price_fixed if fixed is None else fixed, "InstanceCount": count,
        "ProductDescription": product_description, "State": state,
    }
    if zone:
        ri["AvailabilityZone"] = zone
    if tags:
        ri["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
    return ri


def provider_inventory_folder() -> None:
    f = Folder("test_provider_inventory_reads_every_region_of_the_usage")
    catalog_calls(f)
    f.ok("ec2", "DescribeReservedInstances", {"ReservedInstances": [
        reserved_instance(uid("ri:a"), "m5.large", "standard", THREE, "All Upfront", 10,
                          "2022-05-01T09:12:44.000Z", "2025-04-30T09:12:44.000Z", "active")]},
        {"Filters": [{"Name": "state", "Values": ["active", "payment-pending", "queued"]}]})
    f.ok("savingsplans", "DescribeSavingsPlans", {"savingsPlans": [
        savings_plan(uid("sp:compute"), "Compute", YEAR, "No Upfront", "5.0", "0", "5.0",
                     "2024-03-15T00:00:00.000Z", "2025-03-15T00:00:00.000Z", "active")]},
        {"states": ["active", "payment-pending", "queued"]})
    f.ok("sts", "GetCallerIdentity", {"UserId": "AROAEXAMPLEROLEID1234:ladder",
                                      "Account": ACCT_A,
                                      "Arn": f"arn:aws:sts::{ACCT_A}:assumed-role/ladder-readonly/"
                                             "ladder"})


def inventory_folder() -> None:
    f = Folder("test_inventory_from_recorded_reserved_instances_and_savings_plans")
    ris = [
        reserved_instance(uid("ri:a"), "m5.large", "standard", THREE, "All Upfront", 10,
                          "2022-05-01T09:12:44.000Z", "2025-04-30T09:12:44.000Z", "active"),
        reserved_instance(uid("ri:b"), "c5.xlarge", "convertible", YEAR, "No Upfront", 4,
                          "2024-01-15T16:03:10.000Z", "2025-01-14T16:03:10.000Z", "active",
                          fixed=0.0, hourly=0.128),
        reserved_instance(uid("ri:c"), "m5.2xlarge", "standard", YEAR, "No Upfront", 2,
                          "2024-02-01T00:00:00.000Z", "2025-01-31T00:00:00.000Z", "active",
                          zone="us-east-1a", fixed=0.0, hourly=0.240),
        reserved_instance(uid("ri:d"), "m5.large", "standard", YEAR, "Partial Upfront", 3,
                          "2024-06-10T12:00:00.000Z", "2025-06-10T12:00:00.000Z", "active",
                          product_description="Windows", fixed=662.0, hourly=0.076),
        reserved_instance(uid("ri:e"), "m5.large", "standard", YEAR, "No Upfront", 6,
                          "2023-08-20T00:00:00.000Z", "2024-08-19T00:00:00.000Z", "active"),
        reserved_instance(uid("ri:f"), "m5.metal", "standard", YEAR, "No Upfront", 1,
                          "2024-03-01T00:00:00.000Z", "2025-03-01T00:00:00.000Z",
                          "payment-pending", fixed=0.0, hourly=2.880),
    ]
    f.ok("ec2", "DescribeReservedInstances", {"ReservedInstances": ris},
         {"Filters": [{"Name": "state", "Values": ["active", "payment-pending", "queued"]}]})
    token = "ZXlKdVpYaDBWRzlyWlc0aU9pSXhJbjA9"
    states = ["active", "payment-pending", "queued"]
    plans1 = [savings_plan(uid("sp:compute"), "Compute", YEAR, "No Upfront", "5.0", "0",
                           "5.0", "2024-03-15T00:00:00.000Z", "2025-03-15T00:00:00.000Z",
                           "active")]
    plans2 = [
        savings_plan(uid("sp:ec2"), "EC2Instance", THREE, "Partial Upfront", "2.5", "32850",
                     "1.25", "2023-11-01T00:00:00.000Z", "2026-10-31T00:00:00.000Z", "active",
                     region="us-east-1", family="m5"),
        savings_plan(uid("sp:queued"), "Compute", THREE, "All Upfront", "1.0", "26280", "0",
                     "2024-10-01T00:00:00.000Z", "2027-10-01T00:00:00.000Z", "queued"),
    ]
    f.ok("savingsplans", "DescribeSavingsPlans", {"savingsPlans": plans1, "nextToken": token},
         {"states": states})
    f.ok("savingsplans", "DescribeSavingsPlans", {"savingsPlans": plans2},
         {"states": states, "nextToken": token})


def savings_plan(plan_id: str, plan_type: str, duration: int, payment: str, commitment: str,
                 upfront: str, recurring: str, start: str, end: str, state: str,
                 region: str | None = None, family: str | None = None,
                 tags: dict[str, str] | None = None,
                 returnable_until: str | None = None) -> dict[str, Any]:
    years = 1 if duration == YEAR else 3
    plan: dict[str, Any] = {
        "offeringId": sp_offering_id(plan_type, family, duration, payment),
        "savingsPlanId": plan_id,
        "savingsPlanArn": f"arn:aws:savingsplans::{ACCT_A}:savingsplan/{plan_id}",
        "description": f"{years} year {payment} "
                       f"{'Compute' if plan_type == 'Compute' else 'EC2 Instance'} Savings Plan",
        "start": start, "end": end, "state": state,
        "savingsPlanType": plan_type, "paymentOption": payment,
        "productTypes": ["EC2", "Fargate", "Lambda"] if plan_type == "Compute" else ["EC2"],
        "currency": "USD", "commitment": commitment, "upfrontPaymentAmount": upfront,
        "recurringPaymentAmount": recurring, "termDurationInSeconds": duration,
        "tags": tags or {},
    }
    if region:
        plan["region"] = region
        plan["ec2InstanceFamily"] = family
    if returnable_until:
        plan["returnableUntil"] = returnable_until
    return plan


# --- RI purchases ------------------------------------------------------------------------

M5_PU = ("m5.large", "standard", YEAR, "Partial Upfront")
NEW_RI = uid("ri:new")


def tag_lookup(f: Folder, found: list[dict[str, Any]], key: str = KEY,
               tag: str = "ladder:purchase-key") -> None:
    f.ok("ec2", "DescribeReservedInstances", {"ReservedInstances": found},
         {"Filters": [{"Name": f"tag:{tag}", "Values": [key]}]})


def untagged_lookup(f: Folder, found: list[dict[str, Any]],
                    offering: tuple[str, str, int, str] = M5_PU) -> None:
    instance_type, cls, duration, payment = offering
    f.ok("ec2", "DescribeReservedInstances", {"ReservedInstances": found}, {
        "OfferingClass": cls, "OfferingType": payment,
        "Filters": [{"Name": "instance-type", "Values": [instance_type]},
                    {"Name": "scope", "Values": ["Region"]},
                    {"Name": "duration", "Values": [str(duration)]},
                    {"Name": "product-description", "Values": ["Linux/UNIX"]}],
    })


def live_offering(f: Folder, fixed: float | None = None,
                  offering: tuple[str, str, int, str] = M5_PU) -> None:
    f.ok("ec2", "DescribeReservedInstancesOfferings",
         {"ReservedInstancesOfferings": [ri_offering(*offering, fixed=fixed)]},
         {"ReservedInstancesOfferingIds": [ri_offering_id(*offering)],
          "IncludeMarketplace": False})


def purchase_expected(count: int = 8, limit: float = 2072.0,
                      purchase_time: str | None = None) -> dict[str, Any]:
    expected: dict[str, Any] = {"ReservedInstancesOfferingId": ri_offering_id(*M5_PU),
                                "InstanceCount": count,
                                "LimitPrice": {"Amount": limit, "CurrencyCode": "USD"}}
    if purchase_time:
        expected["PurchaseTime"] = purchase_time
    return expected


def tag_ri(f: Folder, ids: list[str], tag: str = "ladder:purchase-key", key: str = KEY) -> None:
    f.ok("ec2", "CreateTags", {},
         {"Resources": ids, "Tags": [{"Key": tag, "Value": key}]})


def new_ri(state: str = "payment-pending", tags: dict[str, str] | None = None,
           start: str = "2024-09-02T10:00:03.000Z",
           end: str = "2025-09-02T10:00:02.000Z") -> dict[str, Any]:
    return reserved_instance(NEW_RI, "m5.large", "standard", YEAR, "Partial Upfront", 8,
                             start, end, state, tags=tags)


OLD_RI = reserved_instance(uid("ri:old"), "m5.large", "standard", YEAR, "Partial Upfront", 8,
                           "2023-09-04T08:30:00.000Z", "2024-09-03T08:29:59.000Z", "active")


def ri_purchase_folders() -> None:
    f = Folder("test_ri_purchase_success")
    tag_lookup(f, [])
    untagged_lookup(f, [OLD_RI])
    live_offering(f)
    f.ok("ec2", "PurchaseReservedInstancesOffering", {"ReservedInstancesId": NEW_RI},
         purchase_expected())
    tag_ri(f, [NEW_RI])
    f.ok("ec2", "DescribeReservedInstances",
         {"ReservedInstances": [new_ri(tags={"ladder:purchase-key": KEY})]},
         {"ReservedInstancesIds": [NEW_RI]})

    f = Folder("test_ri_purchase_throttled_then_succeeds")
    tag_lookup(f, [])
    untagged_lookup(f, [])
    live_offering(f)
    f.error("ec2", "PurchaseReservedInstancesOffering", 503, "RequestLimitExceeded",
            "Request limit exceeded.", purchase_expected())
    f.ok("ec2", "PurchaseReservedInstancesOffering", {"ReservedInstancesId": NEW_RI},
         purchase_expected())
    tag_ri(f, [NEW_RI])
    f.ok("ec2", "DescribeReservedInstances",
         {"ReservedInstances": [new_ri("active", tags={"ladder:purchase-key": KEY})]},
         {"ReservedInstancesIds": [NEW_RI]})

    f = Folder("test_ri_purchase_permanent_error")
    tag_lookup(f, [])
    untagged_lookup(f, [])
    live_offering(f)
    f.error("ec2", "PurchaseReservedInstancesOffering", 400, "ReservedInstancesLimitExceeded",
            "Your current quota does not allow you to purchase the required number of "
            "reserved instances.", purchase_expected())

    f = Folder("test_ri_purchase_retry_after_unknown_outcome_does_not_buy_twice")
    tag_lookup(f, [])
    untagged_lookup(f, [])
    live_offering(f)
    f.error("ec2", "PurchaseReservedInstancesOffering", 500, "InternalError",
            "An internal error has occurred.", purchase_expected())
    tag_lookup(f, [])
    untagged_lookup(f, [OLD_RI])  # the new RI is not listed yet
    # The executor's retry, five minutes later: the RI is there, untagged.
    tag_lookup(f, [])
    untagged_lookup(f, [OLD_RI, new_ri()])
    tag_ri(f, [NEW_RI])
    # find_order with the key alone now sees it by its tag.
    tag_lookup(f, [new_ri("active", tags={"ladder:purchase-key": KEY})])

    f = Folder("test_find_order_by_key_alone_sees_an_untagged_purchase_this_market_sent")
    tag_lookup(f, [])
    untagged_lookup(f, [])
    live_offering(f)
    f.error("ec2", "PurchaseReservedInstancesOffering", 504, "ServiceUnavailable",
            "The service is unavailable. Please try again shortly.", purchase_expected())
    tag_lookup(f, [])
    untagged_lookup(f, [])
    # The executor asks with the key alone, as its reconciliation does.
    tag_lookup(f, [])
    untagged_lookup(f, [new_ri()])
    tag_ri(f, [NEW_RI])

    f = Folder("test_two_untagged_matches_are_ambiguous")
    tag_lookup(f, [])
    twin = reserved_instance(uid("ri:twin"), "m5.large", "standard", YEAR, "Partial Upfront", 8,
                             "2024-09-02T09:58:41.000Z", "2025-09-02T09:58:40.000Z", "active")
    untagged_lookup(f, [new_ri(), twin])

    f = Folder("test_ri_purchase_refuses_price_above_limit")
    tag_lookup(f, [])
    untagged_lookup(f, [])
    live_offering(f, fixed=279.0)

    f = Folder("test_ri_queued_purchase_sends_purchase_time")
    tag_lookup(f, [])
    untagged_lookup(f, [])
    live_offering(f)
    f.ok("ec2", "PurchaseReservedInstancesOffering", {"ReservedInstancesId": NEW_RI},
         purchase_expected(purchase_time="2024-10-01T00:00:00Z"))
    tag_ri(f, [NEW_RI])
    f.ok("ec2", "DescribeReservedInstances", {"ReservedInstances": [new_ri(
        "queued", tags={"ladder:purchase-key": KEY}, start="2024-10-01T00:00:00.000Z",
        end="2025-10-01T00:00:00.000Z")]}, {"ReservedInstancesIds": [NEW_RI]})

    f = Folder("test_ri_offering_resolved_from_aws_when_not_in_the_catalog")
    f.ok("pricing", "GetProducts", {"FormatVersion": "aws_v1", "PriceList": [
        product("m5.large", "4", 0.096), product("m5.xlarge", "8", 0.192)]},
        products_request("m5", "linux"))
    f.ok("ec2", "DescribeReservedInstancesOfferings",
         {"ReservedInstancesOfferings": ri_offerings("m5.large")},
         offerings_request("m5.large"))
    live_offering(f)


# --- Savings Plans purchases ------------------------------------------------------------

SP_REF_ID = sp_offering_id("Compute", None, YEAR, "Partial Upfront")
NEW_SP = uid("sp:new")


def create_expected(purchase_time: str | None = None) -> dict[str, Any]:
    expected: dict[str, Any] = {
        "savingsPlanOfferingId": SP_REF_ID, "commitment": "1.23456",
        "clientToken": str(uuid.uuid5(TOKEN_NS, KEY)),
        "tags": {"ladder:purchase-key": KEY}, "upfrontPaymentAmount": "5408",
    }
    if purchase_time:
        expected["purchaseTime"] = purchase_time
    return expected


def other_plans() -> list[dict[str, Any]]:
    return [
        savings_plan(uid("sp:other"), "Compute", YEAR, "No Upfront", "3.0", "0", "3.0",
                     "2024-05-01T00:00:00.000Z", "2025-05-01T00:00:00.000Z", "active",
                     tags={"ladder:purchase-key": "plan-7/action-2", "team": "finops"}),
        savings_plan(uid("sp:manual"), "Compute", YEAR, "Partial Upfront", "1.23456", "5408",
                     "0.61722", "2024-08-30T09:00:00.000Z", "2025-08-30T09:00:00.000Z",
                     "active"),
    ]


def new_plan(state: str = "payment-pending", start: str = "2024-09-02T10:00:04.000Z",
             end: str = "2025-09-02T10:00:03.000Z") -> dict[str, Any]:
    return savings_plan(NEW_SP, "Compute", YEAR, "Partial Upfront", "1.23456", "5408",
                        "0.61722", start, end, state, tags={"ladder:purchase-key": KEY})


def sp_purchase_folders() -> None:
    f = Folder("test_sp_purchase_success")
    f.ok("savingsplans", "DescribeSavingsPlans", {"savingsPlans": other_plans()}, {})
    f.ok("savingsplans", "CreateSavingsPlan", {"savingsPlanId": NEW_SP}, create_expected())
    f.ok("savingsplans", "DescribeSavingsPlans", {"savingsPlans": [new_plan()]},
         {"savingsPlanIds": [NEW_SP]})

    f = Folder("test_sp_purchase_throttled_then_succeeds")
    f.ok("savingsplans", "DescribeSavingsPlans", {"savingsPlans": []}, {})
    f.error("savingsplans", "CreateSavingsPlan", 400, "ThrottlingException", "Rate exceeded",
            create_expected())
    f.ok("savingsplans", "CreateSavingsPlan", {"savingsPlanId": NEW_SP}, create_expected())
    f.ok("savingsplans", "DescribeSavingsPlans", {"savingsPlans": [new_plan("active")]},
         {"savingsPlanIds": [NEW_SP]})

    f = Folder("test_sp_purchase_permanent_error")
    f.ok("savingsplans", "DescribeSavingsPlans", {"savingsPlans": other_plans()}, {})
    f.error("savingsplans", "CreateSavingsPlan", 402, "ServiceQuotaExceededException",
            "You have reached the maximum number of Savings Plans you can purchase in a "
            "24-hour period.", create_expected())

    f = Folder("test_sp_purchase_retry_after_unknown_outcome_does_not_buy_twice")
    f.ok("savingsplans", "DescribeSavingsPlans", {"savingsPlans": other_plans()}, {})
    f.error("savingsplans", "CreateSavingsPlan", 500, "InternalServerException",
            "An internal error occurred.", create_expected())
    f.ok("savingsplans", "DescribeSavingsPlans", {"savingsPlans": other_plans()}, {})
    f.ok("savingsplans", "DescribeSavingsPlans", {"savingsPlans": [*other_plans(), new_plan()]},
         {})
    tag_lookup(f, [])
    tag_lookup(f, [], tag="ladder:exchange-key")
    f.ok("savingsplans", "DescribeSavingsPlans",
         {"savingsPlans": [*other_plans(), new_plan("active")]}, {})

    f = Folder("test_sp_queued_purchase_sends_purchase_time")
    f.ok("savingsplans", "DescribeSavingsPlans", {"savingsPlans": []}, {})
    f.ok("savingsplans", "CreateSavingsPlan", {"savingsPlanId": NEW_SP}, {
        "savingsPlanOfferingId": sp_offering_id("EC2Instance", "m5", THREE, "No Upfront"),
        "commitment": "0.75", "clientToken": str(uuid.uuid5(TOKEN_NS, KEY)),
        "tags": {"ladder:purchase-key": KEY}, "purchaseTime": "2024-10-01T00:00:00Z",
    })
    f.ok("savingsplans", "DescribeSavingsPlans", {"savingsPlans": [savings_plan(
        NEW_SP, "EC2Instance", THREE, "No Upfront", "0.75", "0", "0.75",
        "2024-10-01T00:00:00.000Z", "2027-10-01T00:00:00.000Z", "queued", region="us-east-1",
        family="m5", tags={"ladder:purchase-key": KEY})]}, {"savingsPlanIds": [NEW_SP]})


# --- exchanges ---------------------------------------------------------------------------

SOURCES = [uid("ri:conv-c5-1"), uid("ri:conv-c5-2")]
CONV_3Y_NU = ("m5.large", "convertible", THREE, "No Upfront")
XKEY = "plan-43/action-3"


def source_ris(state: str, tagged: bool) -> list[dict[str, Any]]:
    tags = {"ladder:exchange-key": XKEY} if tagged else None
    return [
        reserved_instance(SOURCES[0], "c5.xlarge", "convertible", THREE, "No Upfront", 4,
                          "2023-01-10T00:00:00.000Z", "2026-01-09T00:00:00.000Z", state,
                          tags=tags, fixed=0.0, hourly=0.088),
        reserved_instance(SOURCES[1], "c5.2xlarge", "convertible", THREE, "No Upfront", 1,
                          "2023-01-10T00:00:00.000Z", "2026-01-09T00:00:00.000Z", state,
                          tags=tags, fixed=0.0, hourly=0.176),
    ]


def exchange_target() -> list[dict[str, Any]]:
    return [{"OfferingId": ri_offering_id(*CONV_3Y_NU), "InstanceCount": 12}]


def quote(valid: bool, reason: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "CurrencyCode": "USD", "IsValidExchange": valid,
        "OutputReservedInstancesWillExpireAt": "2027-09-02T10:00:00.000Z",
        "PaymentDue": "0.000000",
        "ReservedInstanceValueRollup": {"HourlyPrice": "0.528000",
                                        "RemainingTotalValue": "6906.240000",
                                        "RemainingUpfrontValue": "0.000000"},
        "ReservedInstanceValueSet": [
            {"ReservationValue": {"HourlyPrice": "0.352000", "RemainingTotalValue": "4604.160000",
                                  "RemainingUpfrontValue": "0.000000"},
             "ReservedInstanceId": SOURCES[0]},
            {"ReservationValue": {"HourlyPrice": "0.176000", "RemainingTotalValue": "2302.080000",
                                  "RemainingUpfrontValue": "0.000000"},
             "ReservedInstanceId": SOURCES[1]},
        ],
        "TargetConfigurationValueRollup": {"HourlyPrice": "0.600000",
                                           "RemainingTotalValue": "15768.000000",
                                           "RemainingUpfrontValue": "0.000000"},
        "TargetConfigurationValueSet": [
            {"ReservationValue": {"HourlyPrice": "0.600000",
                                  "RemainingTotalValue": "15768.000000",
                                  "RemainingUpfrontValue": "0.000000"},
             "TargetConfiguration": {"InstanceCount": 12,
                                     "OfferingId": ri_offering_id(*CONV_3Y_NU)}},
        ],
    }
    if reason:
        data["ValidationFailureReason"] = reason
    return data


def exchange_folders() -> None:
    quote_request = {"ReservedInstanceIds": SOURCES, "TargetConfigurations": exchange_target()}

    def start(f: Folder, valid: bool = True, reason: str | None = None) -> None:
        tag_lookup(f, [], XKEY, "ladder:exchange-key")
        f.ok("ec2", "GetReservedInstancesExchangeQuote", quote(valid, reason), quote_request)

    f = Folder("test_exchange_success")
    start(f)
    tag_ri(f, SOURCES, "ladder:exchange-key", XKEY)
    f.ok("ec2", "AcceptReservedInstancesExchangeQuote", {"ExchangeId": "riex-0f4e8a2c1b9d7e6a5"},
         quote_request)

    f = Folder("test_exchange_throttled_then_succeeds")
    start(f)
    tag_ri(f, SOURCES, "ladder:exchange-key", XKEY)
    f.error("ec2", "AcceptReservedInstancesExchangeQuote", 503, "RequestLimitExceeded",
            "Request limit exceeded.", quote_request)
    f.ok("ec2", "AcceptReservedInstancesExchangeQuote", {"ExchangeId": "riex-0f4e8a2c1b9d7e6a5"},
         quote_request)

    f = Folder("test_exchange_refused_when_the_quote_is_not_valid")
    start(f, False, "The value of the target configuration is lower than the value of the "
                    "Reserved Instances being exchanged.")

    f = Folder("test_exchange_permanent_error")
    start(f)
    tag_ri(f, SOURCES, "ladder:exchange-key", XKEY)
    f.error("ec2", "AcceptReservedInstancesExchangeQuote", 400, "InvalidReservedInstancesId",
            f"Reserved Instance {SOURCES[1]} is not a convertible Reserved Instance.",
            quote_request)

    f = Folder("test_exchange_quote_says_whether_aws_allows_it")
    f.ok("ec2", "GetReservedInstancesExchangeQuote", quote(True), quote_request)

    f = Folder("test_exchange_retry_after_unknown_outcome_does_not_exchange_twice")
    start(f)
    tag_ri(f, SOURCES, "ladder:exchange-key", XKEY)
    f.error("ec2", "AcceptReservedInstancesExchangeQuote", 500, "InternalError",
            "An internal error has occurred.", quote_request)
    tag_lookup(f, source_ris("active", True), XKEY, "ladder:exchange-key")
    # The retry: the sources are now retired, the exchange happened.
    tag_lookup(f, source_ris("retired", True), XKEY, "ladder:exchange-key")


# --- returns -----------------------------------------------------------------------------

RKEY = "plan-44/action-1"
RETURN_SP = uid("sp:recent")


def recent_plan(state: str = "active", until: str = "2024-09-05T10:00:00.000Z",
                tags: dict[str, str] | None = None) -> dict[str, Any]:
    return savings_plan(RETURN_SP, "Compute", YEAR, "No Upfront", "2.0", "0", "2.0",
                        "2024-08-29T10:00:00.000Z", "2025-08-29T10:00:00.000Z", state,
                        tags=tags, returnable_until=until)


def return_folders() -> None:
    by_id = {"savingsPlanIds": [RETURN_SP]}
    arn = f"arn:aws:savingsplans::{ACCT_A}:savingsplan/{RETURN_SP}"
    tag_request = {"resourceArn": arn, "tags": {"ladder:return-key": RKEY}}
    return_request = {"savingsPlanId": RETURN_SP,
                      "clientToken": str(uuid.uuid5(TOKEN_NS, RKEY))}
    returned_tags = {"ladder:return-key": RKEY}

    f = Folder("test_return_success")
    f.ok("savingsplans", "DescribeSavingsPlans", {"savingsPlans": [recent_plan()]}, by_id)
    f.ok("savingsplans", "TagResource", {}, tag_request)
    f.ok("savingsplans", "ReturnSavingsPlan", {"savingsPlanId": RETURN_SP}, return_request)
    f.ok("savingsplans", "DescribeSavingsPlans",
         {"savingsPlans": [recent_plan("pending-return", tags=returned_tags)]}, by_id)

    f = Folder("test_return_throttled_then_succeeds")
    f.ok("savingsplans", "DescribeSavingsPlans", {"savingsPlans": [recent_plan()]}, by_id)
    f.ok("savingsplans", "TagResource", {}, tag_request)
    f.error("savingsplans", "ReturnSavingsPlan", 400, "ThrottlingException", "Rate exceeded",
            return_request)
    f.ok("savingsplans", "ReturnSavingsPlan", {"savingsPlanId": RETURN_SP}, return_request)
    f.ok("savingsplans", "DescribeSavingsPlans",
         {"savingsPlans": [recent_plan("returned", tags=returned_tags)]}, by_id)

    f = Folder("test_return_refused_once_returnable_until_has_passed")
    f.ok("savingsplans", "DescribeSavingsPlans",
         {"savingsPlans": [recent_plan(until="2024-09-02T09:59:59.000Z")]}, by_id)

    f = Folder("test_return_permanent_error")
    f.ok("savingsplans", "DescribeSavingsPlans", {"savingsPlans": [recent_plan()]}, by_id)
    f.ok("savingsplans", "TagResource", {}, tag_request)
    f.error("savingsplans", "ReturnSavingsPlan", 400, "ValidationException",
            "You have reached the limit of Savings Plans returns for this account.",
            return_request)

    f = Folder("test_return_retry_after_unknown_outcome_does_not_return_twice")
    f.ok("savingsplans", "DescribeSavingsPlans", {"savingsPlans": [recent_plan()]}, by_id)
    f.ok("savingsplans", "TagResource", {}, tag_request)
    f.error("savingsplans", "ReturnSavingsPlan", 500, "InternalServerException",
            "An internal error occurred.", return_request)
    f.ok("savingsplans", "DescribeSavingsPlans",
         {"savingsPlans": [recent_plan("pending-return", tags=returned_tags)]}, by_id)
    f.ok("savingsplans", "DescribeSavingsPlans",
         {"savingsPlans": [recent_plan("pending-return", tags=returned_tags)]}, by_id)
    tag_lookup(f, [], RKEY)
    tag_lookup(f, [], RKEY, "ladder:exchange-key")
    f.ok("savingsplans", "DescribeSavingsPlans",
         {"savingsPlans": [*other_plans(), recent_plan("returned", tags=returned_tags)]}, {})


# --- Cost Explorer -----------------------------------------------------------------------

def sp_recommendation(plan_type: str, details: list[dict[str, Any]], summary: dict[str, str],
                      token: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "Metadata": {"RecommendationId": uid(f"rec:{plan_type}"),
                     "GenerationTimestamp": "2024-09-01T06:12:31Z",
                     "AdditionalMetadata": ""},
        "SavingsPlansPurchaseRecommendation": {
            "AccountScope": "LINKED", "SavingsPlansType": plan_type,
            "TermInYears": "ONE_YEAR", "PaymentOption": "NO_UPFRONT",
            "LookbackPeriodInDays": "THIRTY_DAYS",
            "SavingsPlansPurchaseRecommendationDetails": details,
            "SavingsPlansPurchaseRecommendationSummary": summary,
        },
    }
    if token:
        data["NextPageToken"] = token
    return data


def sp_detail(account: str, commitment: str, savings: str, pct: str, plan: dict[str, str],
              name: str) -> dict[str, Any]:
    return {
        "SavingsPlansDetails": plan, "AccountId": account, "UpfrontCost": "0",
        "EstimatedROI": "41.2", "CurrencyCode": "USD", "EstimatedSPCost": "2186.88",
        "EstimatedOnDemandCost": "3087.43", "EstimatedOnDemandCostWithCurrentCommitment": "0",
        "EstimatedSavingsAmount": savings, "EstimatedSavingsPercentage": pct,
        "HourlyCommitmentToPurchase": commitment, "EstimatedAverageUtilization": "99.1",
        "EstimatedMonthlySavingsAmount": savings,
        "CurrentMinimumHourlyOnDemandSpend": "3.42", "CurrentMaximumHourlyOnDemandSpend": "5.97",
        "CurrentAverageHourlyOnDemandSpend": "4.23", "RecommendationDetailId": uid(name),
    }


def recommendation_folders() -> None:
    f = Folder("test_savings_plans_recommendations_as_a_frame")
    summary = {"EstimatedROI": "41.2", "CurrencyCode": "USD", "EstimatedTotalCost": "2186.88",
               "CurrentOnDemandSpend": "3087.43", "EstimatedSavingsAmount": "900.55",
               "TotalRecommendationCount": "2", "DailyCommitmentToPurchase": "72.96",
               "HourlyCommitmentToPurchase": "3.04", "EstimatedSavingsPercentage": "29.17",
               "EstimatedMonthlySavingsAmount": "900.55",
               "EstimatedOnDemandCostWithCurrentCommitment": "0"}
    compute = {"OfferingId": sp_offering_id("Compute", None, YEAR, "No Upfront")}
    token = "AQICAHhvYzNlOWQ0M2Y="

    def request(plan_type: str, page: str | None = None) -> dict[str, Any]:
        r = {"SavingsPlansType": plan_type, "TermInYears": "ONE_YEAR",
             "PaymentOption": "NO_UPFRONT", "LookbackPeriodInDays": "THIRTY_DAYS",
             "AccountScope": "LINKED"}
        if page:
            r["NextPageToken"] = page
        return r

    f.ok("ce", "GetSavingsPlansPurchaseRecommendation", sp_recommendation(
        "COMPUTE_SP", [sp_detail(ACCT_A, "2.12", "611.30", "28.4", compute, "d1")], summary,
        token), request("COMPUTE_SP"))
    f.ok("ce", "GetSavingsPlansPurchaseRecommendation", sp_recommendation(
        "COMPUTE_SP", [sp_detail(ACCT_B, "0.92", "289.25", "30.1", compute, "d2")], summary),
        request("COMPUTE_SP", token))
    ec2 = {"Region": "US East (N. Virginia)", "InstanceFamily": "m5",
           "OfferingId": sp_offering_id("EC2Instance", "m5", YEAR, "No Upfront")}
    f.ok("ce", "GetSavingsPlansPurchaseRecommendation", sp_recommendation(
        "EC2_INSTANCE_SP", [sp_detail(ACCT_A, "1.85", "702.10", "35.2", ec2, "d3")], summary),
        request("EC2_INSTANCE_SP"))

    f = Folder("test_reservation_recommendations_as_a_frame")

    def ri_detail(instance_type: str, platform: str, instances: str, units: str,
                  name: str) -> dict[str, Any]:
        return {
            "AccountId": ACCT_A,
            "InstanceDetails": {"EC2InstanceDetails": {
                "Family": instance_type.split(".")[0], "InstanceType": instance_type,
                "Region": "US East (N. Virginia)", "Platform": platform, "Tenancy": "Shared",
                "CurrentGeneration": True, "SizeFlexEligible": platform == "Linux/UNIX"}},
            "RecommendedNumberOfInstancesToPurchase": instances,
            "RecommendedNormalizedUnitsToPurchase": units,
            "MinimumNumberOfInstancesUsedPerHour": instances,
            "MinimumNormalizedUnitsUsedPerHour": units,
            "MaximumNumberOfInstancesUsedPerHour": "31",
            "MaximumNormalizedUnitsUsedPerHour": "124",
            "AverageNumberOfInstancesUsedPerHour": "24.6",
            "AverageNormalizedUnitsUsedPerHour": "98.4", "AverageUtilization": "97.3",
            "EstimatedBreakEvenInMonths": "7.1", "CurrencyCode": "USD",
            "EstimatedMonthlySavingsAmount": "612.48",
            "EstimatedMonthlySavingsPercentage": "37.5",
            "EstimatedMonthlyOnDemandCost": "1632.96",
            "EstimatedReservationCostForLookbackPeriod": "1020.48", "UpfrontCost": "5439.0",
            "RecurringStandardMonthlyCost": "459.9",
        }

    f.ok("ce", "GetReservationPurchaseRecommendation", {
        "Metadata": {"RecommendationId": uid("rec:ri"),
                     "GenerationTimestamp": "2024-09-01T06:12:31Z", "AdditionalMetadata": ""},
        "Recommendations": [{
            "AccountScope": "PAYER", "LookbackPeriodInDays": "THIRTY_DAYS",
            "TermInYears": "ONE_YEAR", "PaymentOption": "PARTIAL_UPFRONT",
            "ServiceSpecification": {"EC2Specification": {"OfferingClass": "STANDARD"}},
            "RecommendationDetails": [ri_detail("m5.large", "Linux/UNIX", "21", "84", "r1"),
                                      ri_detail("m5.xlarge", "Windows", "2", "16", "r2")],
            "RecommendationSummary": {"TotalEstimatedMonthlySavingsAmount": "690.11",
                                      "TotalEstimatedMonthlySavingsPercentage": "36.2",
                                      "CurrencyCode": "USD"},
        }],
    }, {"Service": "Amazon Elastic Compute Cloud - Compute", "AccountScope": "PAYER",
        "LookbackPeriodInDays": "THIRTY_DAYS", "TermInYears": "ONE_YEAR",
        "PaymentOption": "PARTIAL_UPFRONT",
        "ServiceSpecification": {"EC2Specification": {"OfferingClass": "STANDARD"}}})


# --- check and session -----------------------------------------------------------------

def check_folders() -> None:
    f = Folder("test_check_reports_each_permission")
    f.ok("sts", "GetCallerIdentity", {"UserId": "AROAEXAMPLEROLEID1234:ladder",
                                      "Account": ACCT_A,
                                      "Arn": f"arn:aws:sts::{ACCT_A}:assumed-role/ladder-readonly/"
                                             "ladder"})
    f.error("ec2", "DescribeReservedInstances", 412, "DryRunOperation",
            "Request would have succeeded, but DryRun flag is set.", {"DryRun": True})
    f.ok("ec2", "DescribeReservedInstancesOfferings",
         {"ReservedInstancesOfferings": ri_offerings("m5.large")[:5], "NextToken": "AAEAAQ=="},
         {"InstanceType": "m5.large", "ProductDescription": "Linux/UNIX",
          "IncludeMarketplace": False, "MaxResults": 5})
    f.error("savingsplans", "DescribeSavingsPlans", 403, "AccessDeniedException",
            f"User: arn:aws:sts::{ACCT_A}:assumed-role/ladder-readonly/ladder is not authorized "
            "to perform: savingsplans:DescribeSavingsPlans", {"maxResults": 1})
    f.ok("savingsplans", "DescribeSavingsPlansOfferings", {"searchResults": [{
        "offeringId": sp_offering_id("Compute", None, YEAR, "No Upfront"),
        "productTypes": ["EC2", "Fargate", "Lambda"], "planType": "Compute",
        "description": "1 year No Upfront Compute Savings Plan", "paymentOption": "No Upfront",
        "durationSeconds": YEAR, "currency": "USD", "serviceCode": "ComputeSavingsPlans",
        "usageType": "ComputeSP:1yrNoUpfront", "operation": "", "properties": []}],
        "nextToken": "ZXhhbXBsZQ=="}, {"planTypes": ["Compute"], "maxResults": 1})
    f.ok("savingsplans", "DescribeSavingsPlansOfferingRates",
         {"searchResults": sp_rates()[:1], "nextToken": "ZXhhbXBsZTI="},
         {"savingsPlanTypes": ["Compute"], "products": ["EC2"],
          "filters": [{"name": "instanceType", "values": ["m5.large"]},
                      {"name": "region", "values": ["us-east-1"]}], "maxResults": 1})
    f.ok("pricing", "GetProducts", {"FormatVersion": "aws_v1",
                                    "PriceList": [product("m5.large", "4", 0.096)],
                                    "NextToken": "eyJ0b2tlbiI6MX0="},
         {"ServiceCode": "AmazonEC2", "MaxResults": 1,
          "Filters": [{"Type": "TERM_MATCH", "Field": "instanceType", "Value": "m5.large"},
                      {"Type": "TERM_MATCH", "Field": "regionCode", "Value": "us-east-1"}]})
    f.ok("ce", "GetSavingsPlansPurchaseRecommendation", {
        "Metadata": {"RecommendationId": uid("rec:check"),
                     "GenerationTimestamp": "2024-09-01T06:12:31Z", "AdditionalMetadata": ""},
        "SavingsPlansPurchaseRecommendation": {
            "SavingsPlansType": "COMPUTE_SP", "TermInYears": "ONE_YEAR",
            "PaymentOption": "NO_UPFRONT", "LookbackPeriodInDays": "SEVEN_DAYS",
            "SavingsPlansPurchaseRecommendationDetails": []}},
        {"SavingsPlansType": "COMPUTE_SP", "TermInYears": "ONE_YEAR",
         "PaymentOption": "NO_UPFRONT", "LookbackPeriodInDays": "SEVEN_DAYS", "PageSize": 1})
    f.error("ce", "GetReservationPurchaseRecommendation", 400, "AccessDeniedException",
            f"User: arn:aws:sts::{ACCT_A}:assumed-role/ladder-readonly/ladder is not authorized "
            "to perform: ce:GetReservationPurchaseRecommendation",
            {"Service": "Amazon Elastic Compute Cloud - Compute", "PageSize": 1})
    f.error("ec2", "PurchaseReservedInstancesOffering", 403, "UnauthorizedOperation",
            "You are not authorized to perform this operation.",
            {"DryRun": True, "InstanceCount": 1,
             "ReservedInstancesOfferingId": ri_offering_id(
                 "m5.large", "standard", YEAR, "No Upfront")})


def session_folders() -> None:
    f = Folder("test_throttling_is_retried_with_backoff_then_reported_retryable")
    for _ in range(4):
        f.error("ec2", "DescribeReservedInstances", 503, "RequestLimitExceeded",
                "Request limit exceeded.")

    f = Folder("test_every_call_is_logged_without_secrets")
    f.ok("ec2", "DescribeReservedInstances", {"ReservedInstances": [OLD_RI]},
         {"Filters": [{"Name": "state", "Values": ["active", "payment-pending", "queued"]}]})
    f.error("savingsplans", "DescribeSavingsPlans", 400, "ValidationException",
            "1 validation error detected", {"states": ["active", "payment-pending", "queued"]})


catalog_folder()
provider_inventory_folder()
inventory_folder()
ri_purchase_folders()
sp_purchase_folders()
exchange_folders()
return_folders()
recommendation_folders()
check_folders()
session_folders()
print("written", sorted(p.name for p in OUT.iterdir()))
