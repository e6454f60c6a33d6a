# shellcheck shell=bash
# Local single-node Apache Kafka 4.x (KRaft, combined broker+controller) for Syncline,
# assembled from Maven Central jars (deploy/local/kafka/pom.xml) and run with `java -cp`.
# Sourced by deploy/local/infra.sh, which defines SCRIPT_DIR, LOCAL_DIR, INFRA_TIMEOUT and
# the helpers (log, warn, die, die_with_log, port_open, now, apt_install).
#
# Env: SYNCLINE_KAFKA_PORT (9092), SYNCLINE_KAFKA_CONTROLLER_PORT (9093),
#      SYNCLINE_KAFKA_HEAP_OPTS ("-Xms256m -Xmx512m"), SYNCLINE_KAFKA_STOP_TIMEOUT (30), JAVA_HOME.

KAFKA_PORT="${SYNCLINE_KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${SYNCLINE_KAFKA_CONTROLLER_PORT:-9093}"
KAFKA_HEAP_OPTS="${SYNCLINE_KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}"
KAFKA_STOP_TIMEOUT="${SYNCLINE_KAFKA_STOP_TIMEOUT:-30}"
KAFKA_SRC="$SCRIPT_DIR/kafka" # pom.xml, server.properties.template, log4j2.properties
KAFKA_HOME="$LOCAL_DIR/kafka"
KAFKA_LIBS="$KAFKA_HOME/libs" # jar cache (survives reset)
KAFKA_DATA="$KAFKA_HOME/data"
KAFKA_LOGS="$KAFKA_HOME/logs"
KAFKA_PROPS="$KAFKA_HOME/server.properties"
KAFKA_PIDFILE="$KAFKA_HOME/kafka.pid"
KAFKA_SERVER_LOG="$KAFKA_LOGS/server.log"
KAFKA_HEALTH_TOPIC=syncline.healthcheck
KAFKA_BOOTSTRAP="127.0.0.1:$KAFKA_PORT"

JAVA_BIN=""

# ----------------------------------------------------------------------------- prerequisites

# kafka__java_major JAVA: feature version of a java binary (8 for 1.8, 17 for 17.0.x).
kafka__java_major() {
    local v
    v="$("$1" -version 2>&1 | awk -F'"' '/version/ {print $2; exit}')"
    v="${v#1.}"
    echo "${v%%[.+-]*}"
}

kafka__ensure_java() {
    [[ -n "$JAVA_BIN" ]] && return 0
    if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then
        JAVA_BIN="$JAVA_HOME/bin/java"
    elif command -v java >/dev/null 2>&1; then
        JAVA_BIN="$(command -v java)"
    else
        apt_install openjdk-17-jre-headless
        JAVA_BIN="$(command -v java)" || die "kafka: java not found after install"
    fi
    local major
    major="$(kafka__java_major "$JAVA_BIN")"
    [[ "$major" =~ ^[0-9]+$ && "$major" -ge 17 ]] ||
        die "kafka: Kafka 4.x needs Java >= 17, $JAVA_BIN is '$major' (set JAVA_HOME)"
}

kafka__pom_hash() { sha256sum "$KAFKA_SRC/pom.xml" | cut -d' ' -f1; }

# kafka__ensure_libs: download the runtime classpath once into .local/kafka/libs.
# The cache is keyed by the pom's sha256, so editing the pom (e.g. a version bump) refreshes it.
kafka__ensure_libs() {
    local want
    want="$(kafka__pom_hash)"
    if [[ -f "$KAFKA_LIBS/.pom.sha256" && "$(cat "$KAFKA_LIBS/.pom.sha256")" == "$want" ]]; then
        return 0
    fi
    command -v mvn >/dev/null 2>&1 || apt_install maven
    mkdir -p "$KAFKA_HOME" "$KAFKA_LOGS"
    local tmp="$KAFKA_HOME/libs.tmp.$$" mvn_log="$KAFKA_LOGS/maven.log" start
    start="$(now)"
    rm -rf "$tmp"
    log "kafka: downloading jars from Maven Central into $KAFKA_LIBS (one time; log: $mvn_log)"
    if ! mvn -B -q -f "$KAFKA_SRC/pom.xml" dependency:copy-dependencies \
        -DincludeScope=runtime -DoutputDirectory="$tmp" >"$mvn_log" 2>&1; then
        rm -rf "$tmp"
        die_with_log "$mvn_log" "kafka: mvn dependency:copy-dependencies failed"
    fi
    ls "$tmp"/kafka_2.13-*.jar >/dev/null 2>&1 || die_with_log "$mvn_log" "kafka: kafka_2.13 jar missing after download"
    echo "$want" >"$tmp/.pom.sha256"
    rm -rf "$KAFKA_LIBS"
    mv "$tmp" "$KAFKA_LIBS"
    log "kafka: $(find "$KAFKA_LIBS" -name '*.jar' | wc -l) jars cached in $(($(now) - start))s"
}

kafka__version() {
    local jar
    jar="$(find "$KAFKA_LIBS" -maxdepth 1 -name 'kafka_2.13-*.jar' 2>/dev/null | head -n 1)"
    jar="${jar##*/kafka_2.13-}"
    echo "${jar%.jar}"
}

# ----------------------------------------------------------------------------- process

# kafka__die MESSAGE: fail, showing JVM stdout/stderr (if any) and the last 30 lines of server.log.
kafka__die() {
    local out="$KAFKA_LOGS/kafka.out"
    if [[ -s "$out" ]]; then
        printf -- '----- last 10 lines of %s -----\n' "$out" >&2
        tail -n 10 "$out" >&2 || true
    fi
    die_with_log "$KAFKA_SERVER_LOG" "$@"
}

# kafka__pid: echo the pid of our broker if it is alive.
kafka__pid() {
    local pid
    pid="$(cat "$KAFKA_PIDFILE" 2>/dev/null)" || return 1
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'kafka\.Kafka' || return 1
    echo "$pid"
}

# kafka__tool MAINCLASS ARGS...: short-lived JVM on the Kafka classpath (console tools etc.).
kafka__tool() {
    "$JAVA_BIN" -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto \
        -Dlog4j2.level=WARN -cp "$KAFKA_LIBS/*" "$@"
}

kafka__render_props() {
    sed -e "s|@BROKER_PORT@|$KAFKA_PORT|g" \
        -e "s|@CONTROLLER_PORT@|$KAFKA_CONTROLLER_PORT|g" \
        -e "s|@DATA_DIR@|$KAFKA_DATA|g" \
        "$KAFKA_SRC/server.properties.template" >"$KAFKA_PROPS.tmp"
    mv "$KAFKA_PROPS.tmp" "$KAFKA_PROPS"
}

kafka__format() {
    [[ -f "$KAFKA_DATA/meta.properties" ]] && return 0
    local cluster_id fmt_log="$KAFKA_LOGS/storage-format.log"
    mkdir -p "$KAFKA_DATA"
    cluster_id="$(kafka__tool kafka.tools.StorageTool random-uuid 2>>"$fmt_log" | tail -n 1)"
    [[ -n "$cluster_id" ]] || die_with_log "$fmt_log" "kafka: could not generate a cluster id"
    log "kafka: formatting KRaft storage $KAFKA_DATA (cluster id $cluster_id, standalone controller)"
    kafka__tool kafka.tools.StorageTool format --config "$KAFKA_PROPS" \
        --cluster-id "$cluster_id" --standalone >>"$fmt_log" 2>&1 ||
        die_with_log "$fmt_log" "kafka: storage format failed"
}

kafka__start() {
    local p
    for p in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"; do
        port_open "$p" && die "kafka: port $p is already in use by another process (set SYNCLINE_KAFKA_PORT / SYNCLINE_KAFKA_CONTROLLER_PORT)"
    done
    log "kafka: starting Kafka $(kafka__version) on $KAFKA_BOOTSTRAP (controller :$KAFKA_CONTROLLER_PORT, log: $KAFKA_SERVER_LOG)"
    local -a heap
    read -r -a heap <<<"$KAFKA_HEAP_OPTS"
    # Fresh kafka.out per start (previous one kept as kafka.out.1); mark the start in server.log.
    [[ -f "$KAFKA_LOGS/kafka.out" ]] && mv -f "$KAFKA_LOGS/kafka.out" "$KAFKA_LOGS/kafka.out.1"
    printf '[%s] ===== deploy/local/infra.sh: starting Kafka %s =====\n' \
        "$(date '+%Y-%m-%d %H:%M:%S,000')" "$(kafka__version)" >>"$KAFKA_SERVER_LOG"
    # setsid + nohup: own session, survives the calling shell. Not a process-group leader
    # here, so setsid execs in place and $! is the JVM's pid. 9>&-: don't inherit the lock fd.
    (
        cd "$KAFKA_HOME" || exit 1
        exec setsid nohup "$JAVA_BIN" "${heap[@]}" \
            -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
            -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true \
            -Dkafka.logs.dir="$KAFKA_LOGS" \
            -Dlog4j2.configurationFile="$KAFKA_SRC/log4j2.properties" \
            -cp "$KAFKA_LIBS/*" kafka.Kafka "$KAFKA_PROPS" \
            >>"$KAFKA_LOGS/kafka.out" 2>&1 </dev/null 9>&-
    ) &
    echo $! >"$KAFKA_PIDFILE"
}

# kafka__roundtrip: create the health topic if needed, produce a unique record, read it back.
# Prints the failing tool's output on error.
kafka__roundtrip() {
    local out token offset got
    out="$(kafka__tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$KAFKA_BOOTSTRAP" \
        --create --if-not-exists --topic "$KAFKA_HEALTH_TOPIC" --partitions 1 --replication-factor 1 \
        --config retention.ms=3600000 --config segment.ms=600000 2>&1)" || {
        echo "create topic: $out"
        return 1
    }
    out="$(kafka__tool org.apache.kafka.tools.GetOffsetShell --bootstrap-server "$KAFKA_BOOTSTRAP" \
        --topic "$KAFKA_HEALTH_TOPIC" --partitions 0 --time latest 2>&1)" || {
        echo "get offset: $out"
        return 1
    }
    offset="$(printf '%s\n' "$out" | sed -n "s/^$KAFKA_HEALTH_TOPIC:0:\([0-9][0-9]*\)$/\1/p" | tail -n 1)"
    [[ -n "$offset" ]] || {
        echo "get offset: unexpected output: $out"
        return 1
    }
    token="healthcheck-$(date +%s%N)-$$"
    out="$(printf '%s\n' "$token" | kafka__tool org.apache.kafka.tools.ConsoleProducer \
        --bootstrap-server "$KAFKA_BOOTSTRAP" --topic "$KAFKA_HEALTH_TOPIC" \
        --producer-property acks=all 2>&1)" || {
        echo "produce: $out"
        return 1
    }
    got="$(kafka__tool org.apache.kafka.tools.consumer.ConsoleConsumer --bootstrap-server "$KAFKA_BOOTSTRAP" \
        --topic "$KAFKA_HEALTH_TOPIC" --partition 0 --offset "$offset" --max-messages 1 \
        --timeout-ms 20000 2>&1)" || true
    if ! grep -qx -- "$token" <<<"$got"; then
        echo "consume: record '$token' not read back from $KAFKA_HEALTH_TOPIC:0@$offset; got: $got"
        return 1
    fi
}

# ----------------------------------------------------------------------------- commands

kafka_up() {
    local start pid
    start="$(now)"
    if pid="$(kafka__pid)" && port_open "$KAFKA_PORT"; then
        log "kafka: already up on $KAFKA_BOOTSTRAP (pid $pid)"
        return 0
    fi
    kafka__ensure_java
    if [[ -z "${pid:-}" ]] && port_open "$KAFKA_PORT"; then
        # Not ours: accept it only if it really behaves like Kafka.
        kafka__ensure_libs
        local err
        if err="$(kafka__roundtrip)"; then
            log "kafka: already up on $KAFKA_BOOTSTRAP (external process, round trip OK)"
            return 0
        fi
        die "kafka: port $KAFKA_PORT is in use by a process that fails the Kafka round trip: $err"
    fi

    kafka__ensure_libs
    mkdir -p "$KAFKA_DATA" "$KAFKA_LOGS"
    if [[ -z "${pid:-}" ]]; then
        rm -f "$KAFKA_PIDFILE"
        kafka__render_props
        kafka__format
        kafka__start
    else
        log "kafka: process $pid already starting; waiting for it"
    fi

    # 1) wait for the listener, failing fast if the JVM dies.
    local deadline=$((start + INFRA_TIMEOUT))
    until port_open "$KAFKA_PORT"; do
        kafka__pid >/dev/null || kafka__die "kafka: process exited during startup"
        [[ $(now) -lt $deadline ]] || kafka__die "kafka: not listening on $KAFKA_BOOTSTRAP after ${INFRA_TIMEOUT}s"
        sleep 0.5
    done
    # 2) real produce + consume round trip.
    local err=""
    until err="$(kafka__roundtrip)"; do
        kafka__pid >/dev/null || kafka__die "kafka: process exited during startup"
        [[ $(now) -lt $deadline ]] ||
            kafka__die "kafka: produce/consume round trip on '$KAFKA_HEALTH_TOPIC' still failing after ${INFRA_TIMEOUT}s: $err"
        sleep 1
    done
    log "kafka: ready on $KAFKA_BOOTSTRAP (Kafka $(kafka__version), pid $(kafka__pid), round trip OK, $(($(now) - start))s)"
}

kafka_down() {
    local pid
    if ! pid="$(kafka__pid)"; then
        rm -f "$KAFKA_PIDFILE"
        if port_open "$KAFKA_PORT"; then
            warn "kafka: port $KAFKA_PORT is served by a process we did not start; leaving it alone"
        else
            log "kafka: not running"
        fi
        return 0
    fi
    log "kafka: stopping (pid $pid, SIGTERM)"
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$(($(now) + KAFKA_STOP_TIMEOUT))
    while kill -0 "$pid" 2>/dev/null; do
        if [[ $(now) -ge $deadline ]]; then
            warn "kafka: still running after ${KAFKA_STOP_TIMEOUT}s, sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            sleep 1
            break
        fi
        sleep 0.5
    done
    rm -f "$KAFKA_PIDFILE"
    log "kafka: stopped"
}

kafka_status() {
    local pid=- version
    version="$(kafka__version)"
    pid="$(kafka__pid)" || pid=-
    if port_open "$KAFKA_PORT"; then
        local note=""
        [[ "$pid" == - ]] && note=" (not ours: no broker started from $KAFKA_HOME)"
        printf '%-9s up    127.0.0.1:%-6s pid=%s version=%s%s\n' kafka "$KAFKA_PORT" "$pid" "${version:-?}" "$note"
        return 0
    fi
    local note=""
    [[ "$pid" != - ]] && note=" (process running, not listening yet)"
    printf '%-9s down  127.0.0.1:%-6s pid=%s version=%s%s\n' kafka "$KAFKA_PORT" "$pid" "${version:-?}" "$note"
    return 1
}

kafka_check() {
    kafka__ensure_java
    if [[ ! -f "$KAFKA_LIBS/.pom.sha256" ]]; then
        log "kafka: FAILED (no jar cache; run infra.sh up kafka)"
        return 1
    fi
    local err
    if err="$(kafka__roundtrip)"; then
        log "kafka: OK (produce+consume round trip on $KAFKA_HEALTH_TOPIC @ $KAFKA_BOOTSTRAP)"
        return 0
    fi
    log "kafka: FAILED ($err)"
    return 1
}

kafka_reset() {
    kafka_down
    log "kafka: wiping $KAFKA_DATA (jar cache $KAFKA_LIBS kept)"
    rm -rf "$KAFKA_DATA" "$KAFKA_PROPS" "$KAFKA_PIDFILE"
}
