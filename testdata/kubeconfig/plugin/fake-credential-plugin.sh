#!/bin/sh
# A fake client-go exec credential plugin for the kubeconfig/auth tests. POSIX sh, no bashisms.
# Driven by environment variables (set through the kubeconfig's exec.env or the test):
#   FAKE_MODE        token (default) | cert | fail | fail-echo | fail-stderr | sleep |
#                    sleep-children | garbage | empty-status
#                    (fail-echo: fails with a stderr that repeats FAKE_TOKEN, FAKE_SECRET and
#                    the arguments, as careless plugins do; fail-stderr: fails with FAKE_STDERR
#                    as its stderr; sleep-children: starts two `sleep` children that keep its
#                    stdout and stderr open, as wrapper scripts do, and waits for them)
#   FAKE_PID_FILE    sleep-children: receives the children's pids, then its own (the group id)
#   FAKE_TOKEN       the token to return (default: fake-token)
#   FAKE_EXPIRY      expirationTimestamp to return (RFC 3339), none when unset
#   FAKE_API_VERSION apiVersion to answer with (default: the one in KUBERNETES_EXEC_INFO)
#   FAKE_CERT_FILE / FAKE_KEY_FILE   PEM files returned in cert mode
#   FAKE_COUNT_FILE  a line is appended per run, so tests can count runs
#   FAKE_INFO_FILE   receives KUBERNETES_EXEC_INFO, then the arguments one per line
# It always checks that its stdin is /dev/null (the MCP protocol must never reach a plugin)
# and fails with exit code 3 when it is not.

if [ -n "$FAKE_COUNT_FILE" ]; then
  echo run >> "$FAKE_COUNT_FILE"
fi
if [ -n "$FAKE_INFO_FILE" ]; then
  printf '%s\n' "$KUBERNETES_EXEC_INFO" > "$FAKE_INFO_FILE"
  for arg in "$@"; do
    printf '%s\n' "$arg" >> "$FAKE_INFO_FILE"
  done
fi
if [ -e /proc/$$/fd/0 ]; then
  stdin=$(readlink /proc/$$/fd/0)
  if [ "$stdin" != /dev/null ]; then
    echo "fake plugin: stdin is $stdin, not /dev/null" >&2
    exit 3
  fi
fi

api_version=$FAKE_API_VERSION
if [ -z "$api_version" ]; then
  api_version=$(printf '%s' "$KUBERNETES_EXEC_INFO" | sed -n 's/.*"apiVersion":"\([^"]*\)".*/\1/p')
fi
expiry=""
if [ -n "$FAKE_EXPIRY" ]; then
  expiry=",\"expirationTimestamp\":\"$FAKE_EXPIRY\""
fi
# PEM as a JSON string: newlines escaped.
pem() { awk '{printf "%s\\n", $0}' "$1"; }

case "${FAKE_MODE:-token}" in
  token)
    printf '{"apiVersion":"%s","kind":"ExecCredential","status":{"token":"%s"%s}}\n' \
      "$api_version" "${FAKE_TOKEN:-fake-token}" "$expiry"
    ;;
  cert)
    printf '{"apiVersion":"%s","kind":"ExecCredential","status":{"clientCertificateData":"%s","clientKeyData":"%s"%s}}\n' \
      "$api_version" "$(pem "$FAKE_CERT_FILE")" "$(pem "$FAKE_KEY_FILE")" "$expiry"
    ;;
  fail)
    echo "error: you must be logged in to the server (the fake plugin was told to fail)" >&2
    exit 1
    ;;
  fail-echo)
    echo "error: refresh token ${FAKE_TOKEN:-fake-token} was rejected (client secret $FAKE_SECRET, args: $*)" >&2
    exit 1
    ;;
  fail-stderr)
    printf '%s\n' "$FAKE_STDERR" >&2
    exit 1
    ;;
  sleep)
    exec sleep 30
    ;;
  sleep-children)
    sleep 60 &
    echo "$!" >> "$FAKE_PID_FILE"
    sleep 60 &
    echo "$!" >> "$FAKE_PID_FILE"
    echo "$$" >> "$FAKE_PID_FILE"
    wait
    ;;
  garbage)
    echo "this is not json; token=${FAKE_TOKEN:-fake-token}"
    ;;
  empty-status)
    printf '{"apiVersion":"%s","kind":"ExecCredential","status":{}}\n' "$api_version"
    ;;
esac
