from django.contrib import admin

from .models import IlrImport, IlrImportedLearner, IlrImportRow, ImportAuditEntry


@admin.register(IlrImport)
class IlrImportAdmin(admin.ModelAdmin):
    list_display = ["file_name", "state", "user", "created_at", "committed_at"]
    list_filter = ["state"]
    readonly_fields = [field.name for field in IlrImport._meta.fields]


@admin.register(IlrImportedLearner)
class IlrImportedLearnerAdmin(admin.ModelAdmin):
    list_display = ["ident", "ilr_import"]
    search_fields = ["ident"]
    readonly_fields = ["ident", "values", "ilr_import"]


@admin.register(ImportAuditEntry)
class ImportAuditEntryAdmin(admin.ModelAdmin):
    list_display = ["at", "action", "actor", "ilr_import"]
    readonly_fields = ["at", "action", "actor", "ilr_import", "details"]


@admin.register(IlrImportRow)
class IlrImportRowAdmin(admin.ModelAdmin):
    list_display = ["ref", "outcome", "line", "ilr_import"]
    list_filter = ["outcome"]
    search_fields = ["ref"]
    readonly_fields = [field.name for field in IlrImportRow._meta.fields]
