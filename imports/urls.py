from django.urls import path

from . import views

app_name = "imports"

urlpatterns = [
    path("ilr/", views.ilr_upload, name="ilr_upload"),
    path("lars/", views.lars_upload, name="lars_upload"),
    path("ilr/<int:pk>/", views.ilr_preview, name="ilr_preview"),
    path("ilr/<int:pk>/status/", views.ilr_status, name="ilr_status"),
    path("ilr/<int:pk>/commit/", views.ilr_commit, name="ilr_commit"),
]
