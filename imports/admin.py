from django.contrib import admin

from .models import IlrImport, IlrImportedLearner, IlrImportRow, ImportAuditEntry


class IlrImportColumn:
    """The import a row belongs to, labelled as people say it (the field's own name would show
    as "Ilr import")."""

    @admin.display(description="ILR import", ordering="ilr_import")
    def import_file(self, obj: IlrImportedLearner | IlrImportRow | ImportAuditEntry) -> IlrImport:
        return obj.ilr_import


@admin.register(IlrImport)
class IlrImportAdmin(admin.ModelAdmin):
    list_display = ["file_name", "state", "user", "created_at", "committed_at"]
    list_filter = ["state"]
    readonly_fields = [field.name for field in IlrImport._meta.fields]


@admin.register(IlrImportedLearner)
class IlrImportedLearnerAdmin(IlrImportColumn, admin.ModelAdmin):
    list_display = ["learner_ident", "import_file"]
    search_fields = ["ident"]
    fields = ("learner_ident", "values", "import_file")
    readonly_fields = fields

    @admin.display(description="Learner Ident", ordering="ident")
    def learner_ident(self, obj: IlrImportedLearner) -> str:
        return obj.ident


@admin.register(ImportAuditEntry)
class ImportAuditEntryAdmin(IlrImportColumn, admin.ModelAdmin):
    list_display = ["when", "action", "actor", "import_file"]
    fields = ("when", "action", "actor", "import_file", "details")
    readonly_fields = fields

    @admin.display(description="When", ordering="at")
    def when(self, obj: ImportAuditEntry) -> object:
        return obj.at


@admin.register(IlrImportRow)
class IlrImportRowAdmin(IlrImportColumn, admin.ModelAdmin):
    list_display = ["ref", "outcome", "line", "import_file"]
    list_filter = ["outcome"]
    search_fields = ["ref"]
    fields = ("ref", "outcome", "line", "changes", "reasons", "import_file")
    readonly_fields = fields
