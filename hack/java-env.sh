# Sourced by Nuri's scripts: finds a JDK 25 and exports JAVA_HOME and PATH.
# The machine's default java may be 17; Nuri needs 25 (FFM final, Vector API incubator).
nuri_find_jdk25() {
  local candidate
  for candidate in "${JAVA_HOME:-}" /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/temurin-25* /usr/lib/jvm/*25* /opt/java/openjdk; do
    [ -n "$candidate" ] && [ -x "$candidate/bin/java" ] || continue
    if "$candidate/bin/java" -version 2>&1 | grep -Eq 'version "25'; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

if ! NURI_JDK=$(nuri_find_jdk25); then
  echo "error: JDK 25 not found. Install Temurin 25 and set JAVA_HOME to it." >&2
  return 1 2>/dev/null || exit 1
fi
export JAVA_HOME="$NURI_JDK"
export PATH="$JAVA_HOME/bin:$PATH"
