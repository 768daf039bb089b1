"""`/api/v1/`: one router, each app registers its viewsets in its own `api` module."""

from rest_framework.routers import DefaultRouter

from accounts.api import views as accounts_views
from analytics import api as analytics_api
from compliance.api import views as compliance_views
from content.api import views as content_views
from notifications import api as notifications_api
from scheduling import api as scheduling_api

router = DefaultRouter()
accounts_views.register(router)
compliance_views.register(router)
content_views.register(router)
scheduling_api.register(router)
notifications_api.register(router)
analytics_api.register(router)

urlpatterns = router.urls
