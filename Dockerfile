FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends libgl1 && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md ./
COPY . .
# torch is pinned first so that nothing else chooses its build; GPU images swap in a CUDA wheel here.
RUN pip install --no-cache-dir torch==2.13.0 && pip install --no-cache-dir ".[ml]"
RUN python manage.py collectstatic --noinput
EXPOSE 8000
CMD ["python", "-m", "uvicorn", "config.asgi:application", "--host", "0.0.0.0", "--port", "8000"]
