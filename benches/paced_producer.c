/*
 * The floor for paced produce: a minimal C producer on librdkafka that paces the way surge's
 * pacer does (wake at most once a millisecond, send every event then due), with the same
 * client settings, keys and payload size. benches/README.md section 7 compares surge's CPU per
 * paced event against this program's. It measures nothing itself beyond counting delivery
 * reports: `/usr/bin/time` gives the CPU. Each payload starts with "LATENCY:<wall-clock us>",
 * as `rdkafka_performance -P -l` writes it, so that `rdkafka_performance -C -l` measures the
 * pair's end-to-end latency from the moment each event was handed to librdkafka.
 *
 *   paced_producer BOOTSTRAP TOPIC RATE SECONDS [KEYS [SIZE [TYPE_HEADER]]]
 *
 * PACED_PRODUCER_CONFIG="KEY=VALUE ..." sets more client settings: benches/compare.sh passes
 * surge's own defaults (the idempotent producer, Nagle off), so both sides run the same client.
 *
 * Offered far more than it can send (benches/compare.sh's produce_keyed row: 2M/s for 3 s), it
 * runs flat out: a keyed producer sending payloads like surge's, the C side of surge's
 * produce-only throughput on the same bytes.
 *
 * Build it against the librdkafka.a of the cargo build (benches/compare.sh does).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rdkafka.h"

static uint64_t acked, failed;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
        (void)rk;
        (void)opaque;
        if (m->err)
                failed++;
        else
                acked++;
}

static double now_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void set(rd_kafka_conf_t *conf, const char *key, const char *value) {
        char err[256];
        if (rd_kafka_conf_set(conf, key, value, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
                fprintf(stderr, "%s: %s\n", key, err);
                exit(2);
        }
}

int main(int argc, char **argv) {
        if (argc < 5) {
                fprintf(stderr, "usage: %s BOOTSTRAP TOPIC RATE SECONDS [KEYS [SIZE [TYPE_HEADER]]]\n",
                        argv[0]);
                return 2;
        }
        const char *topic = argv[2];
        double rate = atof(argv[3]);
        double seconds = atof(argv[4]);
        long keys = argc > 5 ? atol(argv[5]) : 100000;
        size_t size = argc > 6 ? (size_t)atol(argv[6]) : 512;
        const char *type_header = argc > 7 ? argv[7] : NULL;
        if (rate <= 0 || seconds <= 0 || keys <= 0 || size < 16) {
                fprintf(stderr, "RATE, SECONDS and KEYS must be positive, SIZE at least 16\n");
                return 2;
        }

        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        set(conf, "bootstrap.servers", argv[1]);
        set(conf, "acks", "all");
        set(conf, "retries", "3");
        set(conf, "compression.type", "snappy");
        set(conf, "batch.size", "16384");
        set(conf, "linger.ms", "10");
        /* More client settings, KEY=VALUE each, from the environment (compare.sh passes surge's
         * own producer defaults, so both sides run the same client). */
        const char *extra = getenv("PACED_PRODUCER_CONFIG");
        if (extra) {
                char *copy = strdup(extra), *save = NULL;
                for (char *item = strtok_r(copy, " ", &save); item; item = strtok_r(NULL, " ", &save)) {
                        char *eq = strchr(item, '=');
                        if (!eq) {
                                fprintf(stderr, "PACED_PRODUCER_CONFIG: '%s' is not KEY=VALUE\n", item);
                                return 2;
                        }
                        *eq = '\0';
                        set(conf, item, eq + 1);
                }
                free(copy);
        }
        rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
        char err[512];
        rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
        if (!rk) {
                fprintf(stderr, "%s\n", err);
                return 2;
        }

        char *payload = malloc(size);
        memset(payload, 'x', size);
        rd_kafka_headers_t *headers = NULL;
        if (type_header) {
                headers = rd_kafka_headers_new(1);
                rd_kafka_header_add(headers, "__TypeId__", -1, type_header, -1);
        }

        uint64_t total = (uint64_t)(rate * seconds), sent = 0;
        uint64_t seed = 88172645463325252ull;
        double start = now_s();
        while (sent < total) {
                double elapsed = now_s() - start;
                uint64_t due = (uint64_t)(elapsed * rate) + 1;
                if (due > total)
                        due = total;
                for (; sent < due; sent++) {
                        /* A distinct payload and key per event, as surge writes them. */
                        seed ^= seed << 13;
                        seed ^= seed >> 7;
                        seed ^= seed << 17;
                        char key[24];
                        int key_len = snprintf(key, sizeof(key), "order-%ld", (long)(seed % (uint64_t)keys));
                        /* rdkafka_performance -C -l reads the send's wall clock from here. */
                        struct timespec wall;
                        clock_gettime(CLOCK_REALTIME, &wall);
                        snprintf(payload, size, "LATENCY:%" PRIu64,
                                 (uint64_t)wall.tv_sec * 1000000u + (uint64_t)wall.tv_nsec / 1000u);
                        rd_kafka_resp_err_t e;
                        do {
                                e = rd_kafka_producev(
                                    rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, (size_t)key_len),
                                    RD_KAFKA_V_VALUE(payload, size), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                    RD_KAFKA_V_HEADERS(headers ? rd_kafka_headers_copy(headers) : NULL),
                                    RD_KAFKA_V_END);
                                if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                                        rd_kafka_poll(rk, 1);
                        } while (e == RD_KAFKA_RESP_ERR__QUEUE_FULL);
                        if (e) {
                                fprintf(stderr, "produce: %s\n", rd_kafka_err2str(e));
                                return 1;
                        }
                }
                rd_kafka_poll(rk, 0);
                struct timespec ms = {0, 1000000};
                nanosleep(&ms, NULL);
        }
        rd_kafka_flush(rk, 30000);
        printf("sent %" PRIu64 " acked %" PRIu64 " failed %" PRIu64 " in %.2f s\n", sent, acked, failed,
               now_s() - start);
        if (headers)
                rd_kafka_headers_destroy(headers);
        rd_kafka_destroy(rk);
        free(payload);
        return acked == sent ? 0 : 1;
}
