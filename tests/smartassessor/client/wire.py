"""Contract-shaped JSON for the mocked server, as the sandbox would answer it."""

BASE_URL = "https://sa.example.test"
API = BASE_URL + "/api/v1"
LEARNER_ID = "6f1c2b1e-8a54-4f0e-9a52-1d2f3c4b5a69"
LEARNER_COURSE_ID = "0b7f4d3a-2c1e-4d5f-8a9b-7c6d5e4f3a21"
SESSION_ID = "a1b2c3d4-e5f6-4789-8abc-def012345678"


def page(items, *, page=1, page_size=100, total=None):
    return {
        "Items": items,
        "Page": page,
        "PageSize": page_size,
        "TotalCount": len(items) if total is None else total,
    }


def errors(code, message, field=None, **extra):
    return {"Errors": [{"Code": code, "Field": field, "Message": message}], **extra}


def token(access_token="token-1", expires_in=3600):
    return {"AccessToken": access_token, "TokenType": "Bearer", "ExpiresIn": expires_in}


def course(**overrides):
    return {
        "SmartAssessorId": 7,
        "QANCode": "ST0070",
        "QualificationTitle": "Business Administrator",
        "IsActive": True,
    } | overrides


def employer(**overrides):
    return {
        "SmartAssessorId": 12,
        "MISEmployerId": "ORG-41",
        "Name": "Harbour Cafe Ltd",
        "EdsId": "123456789",
        "AddressLine1": "1 Quay Street",
        "AddressLine2": None,
        "AddressLine3": None,
        "AddressLine4": "Bristol",
        "AddressPostCode": "BS1 4AA",
        "Telephone": "0117 496 0000",
        "Website": None,
        "EmployerSize": "1-49",
        "ModifiedAt": "2026-11-28T09:30:00.123456Z",
    } | overrides


def assessor(**overrides):
    return {
        "SmartAssessorId": 31,
        "MISAssessorId": "OFF-9",
        "FirstName": "Priya",
        "LastName": "Shah",
        "Email": "priya.shah@provider.example",
        "Telephone": None,
        "Mobile": "07700 900123",
        "ModifiedAt": "2026-11-28T09:30:00Z",
    } | overrides


def learner(**overrides):
    return {
        "SmartAssessorId": LEARNER_ID,
        "MISLearnerId": "L000123",
        "StudentId": None,
        "GivenNames": "Amelia",
        "FamilyName": "Jones",
        "DateOfBirth": "2004-03-15",
        "Sex": "Female",
        "ULN": "1000000042",
        "NINumber": "AB123456C",
        "Email": "amelia.jones@example.com",
        "Telephone": None,
        "Mobile": None,
        "AddressLine1": "2 High Street",
        "AddressLine2": None,
        "AddressLine3": None,
        "AddressLine4": None,
        "AddressPostCode": "S1 2AB",
        "StartDate": "2026-09-01",
        "EmployerSmartAssessorId": 12,
        "AssessorSmartAssessorId": 31,
        "Status": "Active",
        "ModifiedAt": "2026-11-28T09:30:00.000001Z",
    } | overrides


def learner_course(**overrides):
    return {
        "SmartAssessorId": LEARNER_COURSE_ID,
        "LearnerSmartAssessorId": LEARNER_ID,
        "CourseSmartAssessorId": 7,
        "QANCode": "ST0070",
        "PrimaryAssessorSmartAssessorId": 31,
        "SecondaryAssessorSmartAssessorId": None,
        "StartDate": "2026-09-01",
        "PlannedEndDate": "2027-12-31",
        "Status": "InTraining",
        "ProgressPercent": 12.5,
        "AssessedPercent": 10,
        "MappedPercent": 20.25,
        "TimelinePercent": 14.0,
        "ActualEndDate": None,
        "ModifiedAt": "2026-11-28T10:00:00.500000Z",
    } | overrides


def session(**overrides):
    return {
        "SmartAssessorId": SESSION_ID,
        "LearnerSmartAssessorId": LEARNER_ID,
        "AssessorSmartAssessorId": 31,
        "CourseSmartAssessorId": 7,
        "EventType": "PR",
        "PlannedStart": "2026-11-20T10:00:00Z",
        "ActualStart": "2026-11-20T10:05:00Z",
        "DurationMinutes": 60,
        "Attendance": "Attended",
        "Feedback": "Good progress on the project.",
        "ModifiedAt": "2026-11-21T08:00:00.000000Z",
    } | overrides


def smart_coach(**overrides):
    return {
        "LearnerSmartAssessorId": LEARNER_ID,
        "Score": 0.73,
        "Band": "High",
        "ModifiedAt": "2026-11-28T06:00:00.000000Z",
    } | overrides
