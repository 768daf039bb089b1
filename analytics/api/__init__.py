"""`/api/v1/` routes of the analytics app (rollups, fans, subscriptions and transactions, read; webhook
receivers): views, serializers and filtersets; `views.register` adds them to the router."""
