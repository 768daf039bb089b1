from django.apps import AppConfig


class InboxConfig(AppConfig):
    name = "inbox"
    verbose_name = "Fan inbox"

    def ready(self) -> None:
        from inbox import services, signals

        # A new fan's message goes to the next chatter on shift (round-robin), inside the receiving transaction.
        signals.message_received.connect(services.assign_on_arrival, dispatch_uid="inbox.assign_on_arrival")
