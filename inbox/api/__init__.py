"""`/api/v1/` routes of the inbox: conversations and their messages and notes, scripts, chatter metrics;
`views.register` adds them to the router."""
