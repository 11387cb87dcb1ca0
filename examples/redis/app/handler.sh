#!/bin/sh
# Answers one HTTP request on stdin/stdout (busybox nc runs it per connection):
#   GET /health  200 when Redis answers PING, else 503 (the healthcheck)
#   anything else: counts the hit in Redis and says the total.
read -r _method path _version
while read -r line; do
  line=$(printf '%s' "$line" | tr -d '\r')
  [ -z "$line" ] && break
done
redis() { redis-cli -h "${REDIS_HOST:-redis}" -p "${REDIS_PORT:-6379}" "$@" 2>&1; }
reply() { # STATUS BODY
  printf 'HTTP/1.0 %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s\n' \
    "$1" "$((${#2} + 1))" "$2"
}
if [ "$path" = /health ]; then
  if [ "$(redis PING)" = PONG ]; then reply '200 OK' ok; else reply '503 Service Unavailable' 'redis is not answering'; fi
  exit 0
fi
hits=$(redis INCR hits)
reply '200 OK' "Hello from tsstack! This page has been viewed $hits times."
