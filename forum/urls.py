from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from forum import account_views, views

urlpatterns = [
    path("", views.home, name="home"),
    path("essays/<slug:essay_slug>/", views.essay_detail, name="essay"),
    path("essays/<slug:essay_slug>/<slug:section_slug>/", views.section_detail, name="section"),
    path("people/<str:username>/", account_views.profile, name="profile"),
    path("accounts/settings/", account_views.account_settings, name="account_settings"),
    path("accounts/export/", account_views.export_data, name="account_export"),
    path("accounts/delete/", account_views.delete_account, name="account_delete"),
    path("accounts/", include("allauth.urls")),
    path(settings.ADMIN_URL, admin.site.urls),
]
