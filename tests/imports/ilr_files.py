"""ILR 2025-26 files made for the tests: valid against the XSD unless a test spoils them.

No real learner is in them: the names and numbers are made up (the ULNs only pass their check
digit).
"""

from pathlib import Path

from learners.validators import uln_is_valid

EXAMPLE = Path(__file__).resolve().parent / "data" / "ILR-99999999-2526-20250108-094401.xml"

HEADER = """<?xml version="1.0" encoding="UTF-8"?>
<Message xmlns="ESFA/ILR/2025-26">
  <Header>
    <CollectionDetails><Collection>ILR</Collection><Year>2526</Year>
      <FilePreparationDate>2025-10-01</FilePreparationDate></CollectionDetails>
    <Source><ProtectiveMarking>OFFICIAL-SENSITIVE-Personal</ProtectiveMarking>
      <UKPRN>99999999</UKPRN><SoftwareSupplier>Tests</SoftwareSupplier>
      <SoftwarePackage>picsweb</SoftwarePackage><Release>1</Release><SerialNo>01</SerialNo>
      <DateTime>2025-10-01T09:00:00</DateTime></Source>
  </Header>
  <LearningProvider><UKPRN>99999999</UKPRN></LearningProvider>
"""
FOOTER = "</Message>\n"


def uln(number: int) -> str:
    """A ULN that passes its check digit, made from ``number``."""
    for first_nine in range(100000000 + number * 11, 999999999):
        for check in "0123456789":
            if uln_is_valid(f"{first_nine}{check}"):
                return f"{first_nine}{check}"
    raise ValueError(number)


def delivery(
    aim: str = "ZPROG001",
    *,
    sequence: int = 1,
    start: str = "2025-09-01",
    planned_end: str = "2027-03-01",
    actual_end: str | None = None,
    comp_status: int = 1,
    std_code: int | None = 28,
) -> str:
    programme = f"<ProgType>25</ProgType><StdCode>{std_code}</StdCode>" if std_code else ""
    ended = f"<LearnActEndDate>{actual_end}</LearnActEndDate>" if actual_end else ""
    return (
        f"<LearningDelivery><LearnAimRef>{aim}</LearnAimRef><AimType>1</AimType>"
        f"<AimSeqNumber>{sequence}</AimSeqNumber><LearnStartDate>{start}</LearnStartDate>"
        f"<LearnPlanEndDate>{planned_end}</LearnPlanEndDate><FundModel>36</FundModel>"
        f"{programme}<DelLocPostCode>LS1 4AP</DelLocPostCode><CompStatus>{comp_status}</CompStatus>"
        f"{ended}</LearningDelivery>"
    )


def learner(
    ref: str = "L0001",
    *,
    number: int = 1,
    uln_value: str | None = None,
    given: str = "Ada",
    family: str = "Testperson",
    born: str = "2000-01-15",
    deliveries: str | None = None,
    employer: str | None = None,
) -> str:
    employment = (
        "<LearnerEmploymentStatus><EmpStat>10</EmpStat><DateEmpStatApp>2025-08-01"
        f"</DateEmpStatApp><EmpId>{employer}</EmpId></LearnerEmploymentStatus>"
        if employer
        else ""
    )
    return (
        f"<Learner><LearnRefNumber>{ref}</LearnRefNumber><ULN>{uln_value or uln(number)}</ULN>"
        f"<FamilyName>{family}</FamilyName><GivenNames>{given}</GivenNames>"
        f"<DateOfBirth>{born}</DateOfBirth><Ethnicity>31</Ethnicity><Sex>F</Sex>"
        "<LLDDHealthProb>2</LLDDHealthProb><PostcodePrior>LS1 4AP</PostcodePrior>"
        "<Postcode>LS1 4AP</Postcode><Email>learner@example.com</Email>"
        f"{employment}{deliveries if deliveries is not None else delivery()}</Learner>\n"
    )


def write(path: Path, *learners: str) -> Path:
    path.write_text(HEADER + "".join(learners) + FOOTER, encoding="utf-8")
    return path
