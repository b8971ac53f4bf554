from django.conf import settings
from django.contrib import admin
from django.urls import path

from forum import views

urlpatterns = [
    path("", views.home, name="home"),
    path("essays/<slug:essay_slug>/", views.essay_detail, name="essay"),
    path("essays/<slug:essay_slug>/<slug:section_slug>/", views.section_detail, name="section"),
    path(settings.ADMIN_URL, admin.site.urls),
]
