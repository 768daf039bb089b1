import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()

from config.checks import require_serving_settings  # noqa: E402 — needs the app registry

require_serving_settings()
