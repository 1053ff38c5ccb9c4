"""The product's roles. They are Django groups, made by a data migration."""

STAFF = "Staff"
SUPPORT = "Support"
INTEGRATION_ADMIN = "Integration admin"

ENROL = "smartassessor.enrol_learner"
SET_LEARNER_SA_ID = "smartassessor.set_learner_smartassessor_id"
MANAGE_INTEGRATION = "smartassessor.manage_integration"
