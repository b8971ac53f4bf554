from django.conf import settings
from django.contrib import admin
from django.urls import include, path, register_converter

from accounts import views as account_views
from forum import comment_views, notification_views, revision_views, views
from forum.feeds import EssayCommentsFeed, SectionCommentsFeed
from forum.ids import IdConverter


class UsernameConverter:
    """What a username may contain (Django's validator), so odd bytes are simply a 404."""

    regex = r"[\w.@+-]{1,150}"

    def to_python(self, value):
        return value

    def to_url(self, value):
        return value


class TokenConverter:
    """A signed token (django.core.signing): URL-safe base64 and colons, bounded."""

    regex = r"[A-Za-z0-9_:.-]{1,1000}"

    def to_python(self, value):
        return value

    def to_url(self, value):
        return value


register_converter(IdConverter, "id")
register_converter(TokenConverter, "token")
register_converter(UsernameConverter, "username")

section = "essays/<slug:essay_slug>/<slug:section_slug>/"

urlpatterns = [
    path("", views.home, name="home"),
    # Browsers ask for /favicon.ico on pages without an icon link (the admin's).
    path("favicon.ico", views.favicon),
    path("robots.txt", views.robots_txt, name="robots_txt"),
    path("essays/<slug:essay_slug>/", views.essay_detail, name="essay"),
    path(section, views.section_detail, name="section"),
    # "+" is never in a section's slug, so this cannot shadow a section called History.
    path("essays/<slug:essay_slug>/+history/", revision_views.essay_history, name="essay_history"),
    path("essays/<slug:essay_slug>/feed.atom", EssayCommentsFeed(), name="essay_feed"),
    path(f"{section}feed.atom", SectionCommentsFeed(), name="section_feed"),
    path(f"{section}annotations.jsonld", views.section_annotations, name="section_annotations"),
    path(f"{section}revisions/", revision_views.section_history, name="section_history"),
    path(
        f"{section}revisions/<id:number>/",
        revision_views.section_revision,
        name="section_revision",
    ),
    path(f"{section}diff/", revision_views.choose_diff, name="section_choose_diff"),
    path(
        f"{section}diff/<id:before>..<id:after>/",
        revision_views.section_diff,
        name="section_diff",
    ),
    path(f"{section}p/<str:anchor>/", revision_views.paragraph_link, name="paragraph"),
    path(f"{section}follow/", notification_views.follow_section, name="follow_section"),
    path(f"{section}comments/", comment_views.post_comment, name="post_comment"),
    path(f"{section}comments/preview/", comment_views.preview_comment, name="preview_comment"),
    path("search/", views.search, name="search"),
    path("comments/<id:comment_id>/", comment_views.permalink, name="comment"),
    path("comments/<id:comment_id>/thread/", comment_views.thread, name="thread"),
    path(
        "comments/<id:comment_id>/annotation.jsonld",
        views.comment_annotation,
        name="comment_annotation",
    ),
    path("comments/<id:comment_id>/reply/", comment_views.reply, name="reply"),
    path("comments/<id:comment_id>/edit/", comment_views.edit_comment, name="edit_comment"),
    path("comments/<id:comment_id>/edit/preview/", comment_views.preview_edit, name="preview_edit"),
    path("comments/<id:comment_id>/delete/", comment_views.delete_comment, name="delete_comment"),
    path("comments/<id:comment_id>/vote/", comment_views.vote, name="vote"),
    path("comments/<id:comment_id>/report/", comment_views.report_comment, name="report"),
    path("comments/<id:comment_id>/unvote/", comment_views.unvote, name="unvote"),
    path(
        "comments/<id:comment_id>/follow/", notification_views.follow_thread, name="follow_thread"
    ),
    path("notifications/", notification_views.notification_list, name="notifications"),
    path("notifications/read/", notification_views.mark_all_read, name="notifications_read"),
    path(
        "notifications/<id:notification_id>/",
        notification_views.open_notification,
        name="notification",
    ),
    path("unsubscribe/<token:token>/", notification_views.unsubscribe, name="unsubscribe"),
    path("people/<username:username>/", views.profile, name="profile"),
    path("accounts/settings/", account_views.account_settings, name="account_settings"),
    path("accounts/export/", account_views.export_data, name="account_export"),
    path("accounts/delete/", account_views.delete_account, name="account_delete"),
    path("accounts/", include("allauth.urls")),
    path(settings.ADMIN_URL, admin.site.urls),
]
