"""Whether a member may write is read with their account, and still decided by one rule.

`User.write_refusal()` asks two things of the database: is an address verified, is a
ban in force. The session's account is read with both (`OneCheckBackend.get_user`), so
a member's page or post asks no query more for them; an account read any other way
asks them itself."""

from datetime import timedelta

import pytest
from django.contrib.auth.backends import ModelBackend
from django.db import connection
from django.forms.models import model_to_dict
from django.utils import timezone

from accounts import backends
from accounts.backends import OneCheckBackend
from accounts.models import Ban, User
from config.prepared import Prepared

pytestmark = pytest.mark.django_db


def test_the_sessions_account_is_read_with_its_standing(ann, django_assert_num_queries):
    with django_assert_num_queries(1):
        member = OneCheckBackend().get_user(ann.pk)
    with django_assert_num_queries(0):
        assert member.write_refusal() is None
        assert not member.is_suspended


def test_the_sessions_account_is_the_account_as_the_orm_reads_it(ann):
    member = OneCheckBackend().get_user(ann.pk)
    stored = User.objects.get(pk=ann.pk)

    assert model_to_dict(member) == model_to_dict(stored)
    assert (member.password, member.last_login, member.date_joined) == (
        stored.password,
        stored.last_login,
        stored.date_joined,
    )
    member.display_name = "Ann B."
    member.save()  # an update of the row it was read from, not a new account
    assert User.objects.get(pk=ann.pk).display_name == "Ann B."


@pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared only on PostgreSQL")
def test_the_sessions_account_is_read_by_sql_made_once_per_process(settings, monkeypatch, ann, ben):
    settings.PREPARED_QUERIES_CHECK = False  # the check builds the query each time
    built = []

    def build(*args):
        built.append(args)
        return backends._account_with_standing(*args)

    build.__qualname__ = "_account_with_standing"
    monkeypatch.setattr(backends, "ACCOUNT_WITH_STANDING", Prepared(User, build))

    assert OneCheckBackend().get_user(ann.pk).username == "ann"
    assert OneCheckBackend().get_user(ben.pk).username == "ben"
    assert OneCheckBackend().get_user(ann.pk).standing_verified
    assert len(built) == 2  # with two sets of probes, once; then ben's is ann's with his id


def test_a_ban_is_in_force_until_its_end_by_the_databases_clock(ann, ben, mo):
    Ban.objects.create(user=ann, created_by=mo, until=timezone.now() + timedelta(hours=1))
    Ban.objects.create(user=ben, created_by=mo, until=timezone.now() - timedelta(seconds=1))

    assert OneCheckBackend().get_user(ann.pk).is_suspended
    assert not OneCheckBackend().get_user(ben.pk).is_suspended
    assert list(Ban.objects.in_force().values_list("user", flat=True)) == [ann.pk]


def test_a_suspended_member_read_with_the_session_is_refused_with_the_bans_reason(eve):
    member = OneCheckBackend().get_user(eve.pk)

    assert member.is_suspended
    assert "Link spam" in member.write_refusal()


def test_an_unverified_member_read_with_the_session_is_asked_to_verify(cal):
    member = OneCheckBackend().get_user(cal.pk)

    assert member.write_refusal() == "Please verify your email address before you take part."


def test_an_inactive_account_has_no_session(ann):
    User.objects.filter(pk=ann.pk).update(is_active=False)

    assert OneCheckBackend().get_user(ann.pk) is None
    assert OneCheckBackend().get_user(10**9) is None


@pytest.mark.parametrize("read", [lambda pk: User.objects.get(pk=pk), ModelBackend().get_user])
def test_an_account_read_otherwise_asks_the_same_rule_itself(read, eve, ann, mo):
    """A session that names Django's own backend, the admin, a management command."""
    assert "Link spam" in read(eve.pk).write_refusal()
    assert read(eve.pk).is_suspended
    assert read(ann.pk).write_refusal() is None
    Ban.objects.impose(ann, by=mo, reason="Flooding")
    assert "Flooding" in read(ann.pk).write_refusal()
