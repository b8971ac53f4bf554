"""Whether a member may write is read with their account, and still decided by one rule.

`User.write_refusal()` asks two things of the database: is an address verified, is a
ban in force. The session's account is read with both (`OneCheckBackend.get_user`), so
a member's page or post asks no query more for them; an account read any other way
asks them itself."""

import pytest
from django.contrib.auth.backends import ModelBackend

from accounts.backends import OneCheckBackend
from accounts.models import Ban, User

pytestmark = pytest.mark.django_db


def test_the_sessions_account_is_read_with_its_standing(ann, django_assert_num_queries):
    with django_assert_num_queries(1):
        member = OneCheckBackend().get_user(ann.pk)
    with django_assert_num_queries(0):
        assert member.write_refusal() is None
        assert not member.is_suspended


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
