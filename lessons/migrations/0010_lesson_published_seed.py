from pathlib import Path

from django.conf import settings
from django.db import migrations, models


def store_published_seeds(apps, schema_editor):
    """Lessons published before their seed was stored get today's files (the best there is).
    A file that is missing leaves the field empty: seeding then reads the file, with a
    warning (sandbox/models/seeds.py)."""
    Lesson = apps.get_model("lessons", "Lesson")
    content = Path(settings.CONTENT_DIR)  # fixtures/ and models/ under it, as `content sync`

    def read(path: Path) -> str:
        return path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""

    for lesson in Lesson.objects.filter(is_published=True).exclude(fixture="", lab_models=""):
        if lesson.fixture:
            lesson.fixture_sql = read(content / "fixtures" / lesson.fixture)
        if lesson.lab_models:
            lesson.lab_models_source = read(content / "models" / f"{lesson.lab_models}.py")
        lesson.save(update_fields=["fixture_sql", "lab_models_source"])


class Migration(migrations.Migration):
    dependencies = [("lessons", "0009_learning_reviews_certificates")]

    operations = [
        migrations.AddField(
            model_name="lesson",
            name="fixture_sql",
            field=models.TextField(blank=True),
        ),
        migrations.AddField(
            model_name="lesson",
            name="lab_models_source",
            field=models.TextField(blank=True),
        ),
        migrations.RunPython(store_published_seeds, migrations.RunPython.noop),
    ]
