from agreements.demo import loading
from agreements.management.commands.load_agreement import Command as LoadAgreement


class Command(LoadAgreement):
    help = (
        "Load the Sochi memorandum demo (agreement, clauses, zones, actors, places and the May 2019 events) from "
        "agreements/demo/sochi/. Idempotent: records already present are left as they are, so running it again "
        "changes nothing."
    )

    def add_arguments(self, parser):
        self.add_user_argument(parser)

    def handle(self, *args, **options):
        super().handle(*args, directory=loading.SOCHI, **options)

    def nothing_to_do(self, directory) -> str:
        return "Nothing to do: the Sochi demo is already loaded."
