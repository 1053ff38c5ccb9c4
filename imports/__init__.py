"""Getting a provider's data into the MIS domain: the ILR (F32) and the LARS catalogue (F33).

It writes the domain's records through the domain's own rules and knows nothing of Smart
Assessor.
"""
