#!/bin/sh
# certd's acme_dns_hook in tests/integration/acme.sh: add|remove IDENTIFIER RECORD VALUE, on
# pebble-challtestsrv's mock DNS (its management API at $ACME_TEST_CHALLTESTSRV), logged.
echo "$1 $2 $3" >> "$ACME_TEST_HOOK_LOG"
# A provider's API that never answers: the hook waits on a child of its own, and says which.
if [ "$1" = add ] && [ -e "${ACME_TEST_HOOK_HANG:-/nonexistent}" ]; then
  sleep 600 &
  echo "hung $$ $!" >> "$ACME_TEST_HOOK_LOG"
  wait
fi
case "$1" in
  add) exec curl -sf -d "{\"host\":\"$3\",\"value\":\"$4\"}" "http://$ACME_TEST_CHALLTESTSRV/set-txt" ;;
  remove) exec curl -sf -d "{\"host\":\"$3\"}" "http://$ACME_TEST_CHALLTESTSRV/clear-txt" ;;
esac
echo "unknown action $1" >&2
exit 2
