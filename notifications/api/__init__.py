"""`/api/v1/` routes of the notifications app: views, serializers and filtersets; `views.register`
adds them to the router."""
