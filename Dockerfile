# Querylab under gunicorn + whitenoise. Used by docker-compose.yml.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    PATH="/opt/venv/bin:$PATH"

RUN pip install --no-cache-dir uv
WORKDIR /app
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev
COPY . .
RUN DEBUG=0 SECRET_KEY=collectstatic-only DATABASE_URL=postgresql://build@localhost/build \
    SANDBOX_DATABASE_URL=postgresql://build@localhost/build STATIC_ROOT=/app/staticfiles \
    python manage.py collectstatic --noinput

RUN useradd --system --create-home querylab
USER querylab
EXPOSE 8000
# Migrate and publish the lessons, then serve; both are idempotent.
CMD ["sh", "-c", "python manage.py migrate --noinput && python manage.py createcachetable && (python manage.py content sync || true) && exec gunicorn -c config/gunicorn.py"]
