"""`/api/v1/` routes of the accounts app (views, serializers, filtersets; `views.register` adds them to the
router) and the bases every app's API builds on: authentication, permissions and tenant viewsets."""
