#!/usr/bin/env bash
# What upstream's zkEnv.sh sets, for Debian's zkServer.sh and zkCli.sh (which source it): the
# configuration in $ZOOCFGDIR, logs on the console, Debian's jars (zookeeper.jar names its
# dependencies in its manifest; the logging binding is added here).
# shellcheck disable=SC2034 # zkServer.sh and zkCli.sh, which source this file, read them
ZOOCFGDIR=${ZOOCFGDIR:-/conf}
ZOOCFG="$ZOOCFGDIR/${ZOOCFG:-zoo.cfg}"
ZOO_LOG_DIR=${ZOO_LOG_DIR:-/logs}
JAVA=${JAVA_HOME:+$JAVA_HOME/bin/}java
CLASSPATH="$ZOOCFGDIR:/apache-zookeeper-3.9.2-bin:/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-log4j12.jar:/usr/share/java/log4j-1.2.jar${CLASSPATH:+:$CLASSPATH}"
export SERVER_JVMFLAGS="-Xmx${ZK_SERVER_HEAP:-1000}m $SERVER_JVMFLAGS"
export CLIENT_JVMFLAGS="-Xmx${ZK_CLIENT_HEAP:-256}m $CLIENT_JVMFLAGS"
