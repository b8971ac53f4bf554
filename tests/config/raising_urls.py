"""The site's URLs plus one view that breaks, to see the 500 page as it is served."""

from django.urls import path

from config.urls import urlpatterns as site_urlpatterns


def broken(request):
    raise RuntimeError("a bug in a view")


urlpatterns = [path("broken/", broken), *site_urlpatterns]
