"""Full-text search for the Django ORM lab (content/django/08-full-text-search.md).

Loaded into the lab's ``lab`` app like library.py: the table is ``lab_recipe``, with a stored
``tsvector`` column and its GIN index; the data is content/fixtures/recipes.sql, which also fills
the vector (title weighted A, body B, English configuration).
"""

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db import models


class Recipe(models.Model):
    title = models.CharField(max_length=120)
    body = models.TextField()
    cuisine = models.CharField(max_length=20)
    minutes = models.IntegerField()
    search = SearchVectorField(null=True)

    class Meta:
        indexes = [GinIndex(fields=["search"], name="recipe_search_gin")]

    def __str__(self):
        return self.title
