#!/bin/sh
# Answers one HTTP request: counts the hit in Redis and says the total.
read -r _request
while read -r line; do
  line=$(printf '%s' "$line" | tr -d '\r')
  [ -z "$line" ] && break
done
hits=$(redis-cli -h "${REDIS_HOST:-redis}" -p "${REDIS_PORT:-6379}" INCR hits 2>&1)
body=$(printf 'Hello from tsstack! This page has been viewed %s times.' "$hits")
printf 'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s\n' "$((${#body} + 1))" "$body"
