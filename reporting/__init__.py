"""Financial reporting: realised savings, ESR, coverage, utilisation, amortisation, chargeback,
budgets and the commitment calendar — every figure from the billing engine and FOCUS data.
"""
