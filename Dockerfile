# QuizMail: one image for the web app (gunicorn) and the capture server; see docker-compose.yml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    QUIZMAIL_VAR_DIR=/var/lib/quizmail

RUN useradd --create-home --uid 1000 quizmail \
    && mkdir -p /var/lib/quizmail \
    && chown quizmail:quizmail /var/lib/quizmail

WORKDIR /srv/quizmail
# Installed editable: app/config.py finds templates/, static/ and questions/ next to the package.
COPY pyproject.toml README.md ./
COPY app/ app/
RUN pip install -e .
COPY templates/ templates/
COPY static/ static/
COPY questions/ questions/

USER quizmail
VOLUME ["/var/lib/quizmail"]
EXPOSE 8000 8025
CMD ["gunicorn", "-w", "2", "-b", "0.0.0.0:8000", "app:create_app()"]
