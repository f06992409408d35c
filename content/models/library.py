"""The library used by the Django ORM lab lessons (see sandbox/lab/README.md and content/README.md).

A plain module of Django models. The lab loads it as part of an app labelled ``lab``, so the
tables are ``lab_author``, ``lab_publisher``, ``lab_book``, ``lab_tag``, ``lab_book_tags`` and
``lab_review``; the sandbox is seeded with exactly the DDL Django's schema editor makes for them
(what ``sqlmigrate`` prints), then ``content/fixtures/library.sql``.
"""

from django.db import models


class Author(models.Model):
    name = models.CharField(max_length=100)
    country = models.CharField(max_length=2)
    born = models.IntegerField(null=True)

    def __str__(self):
        return self.name


class Publisher(models.Model):
    name = models.CharField(max_length=100, unique=True)
    city = models.CharField(max_length=60)

    def __str__(self):
        return self.name


class Tag(models.Model):
    name = models.SlugField(max_length=40, unique=True)

    def __str__(self):
        return self.name


class Book(models.Model):
    title = models.CharField(max_length=200)
    author = models.ForeignKey(Author, on_delete=models.CASCADE, related_name="books")
    publisher = models.ForeignKey(
        Publisher, null=True, on_delete=models.SET_NULL, related_name="books"
    )
    published_year = models.IntegerField()
    pages = models.IntegerField()
    price = models.DecimalField(max_digits=6, decimal_places=2)
    tags = models.ManyToManyField(Tag, related_name="books", blank=True)

    def __str__(self):
        return self.title


class Review(models.Model):
    book = models.ForeignKey(Book, on_delete=models.CASCADE, related_name="reviews")
    rating = models.IntegerField()
    body = models.TextField()
    created = models.DateField()

    def __str__(self):
        return f"{self.rating}/5 for book {self.book_id}"
