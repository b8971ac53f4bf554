from django.contrib.auth.models import AbstractUser


class User(AbstractUser):
    """The site's user. A custom model from the first migration so accounts can grow
    (display name, bio, preferences) without a painful swap later."""

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
