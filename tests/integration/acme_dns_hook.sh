#!/bin/sh
# certd's acme_dns_hook in tests/integration/acme.sh: add|remove IDENTIFIER RECORD VALUE, on
# pebble-challtestsrv's mock DNS (its management API at $ACME_TEST_CHALLTESTSRV), logged.
echo "$1 $2 $3" >> "$ACME_TEST_HOOK_LOG"
case "$1" in
  add) exec curl -sf -d "{\"host\":\"$3\",\"value\":\"$4\"}" "http://$ACME_TEST_CHALLTESTSRV/set-txt" ;;
  remove) exec curl -sf -d "{\"host\":\"$3\"}" "http://$ACME_TEST_CHALLTESTSRV/clear-txt" ;;
esac
echo "unknown action $1" >&2
exit 2
