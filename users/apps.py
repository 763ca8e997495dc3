from django.apps import AppConfig


class UsersConfig(AppConfig):
    name = "users"
    verbose_name = "Users"

    def ready(self) -> None:
        # Imported for their side effect: registering deploy checks and the schema extension.
        from users import checks, schema  # noqa: F401
