"""What Django's debug pages may show: no credential, whatever the setting is called.

Django hides settings and request variables whose *name* looks secret (KEY, PASS, TOKEN…), but
``SANDBOX_DATABASE_URL`` and ``DATABASE_URL`` carry a superuser's password in a name that does
not. This filter also hides any value that holds a URL with a password in it, and names that
end in ``_URL`` or ``DSN`` when they point at a database or service.
"""

from __future__ import annotations

import re

from django.views.debug import SafeExceptionReporterFilter

# scheme://user:password@host — the password is what must not show.
URL_WITH_PASSWORD = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]*:[^/\s@]+@", re.IGNORECASE)


class CredentialsFilter(SafeExceptionReporterFilter):
    hidden_settings = re.compile(
        "API|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|DATABASE_URL|DSN|CREDENTIAL",
        flags=re.IGNORECASE,
    )

    def cleanse_setting(self, key, value):
        if isinstance(value, str) and URL_WITH_PASSWORD.search(value):
            return self.cleansed_substitute
        return super().cleanse_setting(key, value)
