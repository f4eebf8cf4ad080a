/* A standalone librdkafka mock cluster for throughput comparisons: 3 brokers on loopback,
 * topics given as NAME:PARTITIONS arguments (default throughput:12). Prints the bootstrap
 * servers, then serves until killed.
 * Build: see benches/README.md (links the librdkafka.a that rdkafka-sys builds). */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "rdkafka.h"
#include "rdkafka_mock.h"

int main(int argc, char **argv) {
        char errstr[256];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
        if (!rk) {
                fprintf(stderr, "%s\n", errstr);
                return 1;
        }
        rd_kafka_mock_cluster_t *mock = rd_kafka_mock_cluster_new(rk, 3);
        if (!mock) {
                fprintf(stderr, "mock cluster failed\n");
                return 1;
        }
        for (int i = 1; i < argc || i == 1; i++) {
                char name[256] = "throughput";
                int partitions = 12;
                if (argc > 1 && sscanf(argv[i], "%255[^:]:%d", name, &partitions) < 1)
                        continue;
                if (rd_kafka_mock_topic_create(mock, name, partitions, 3)) {
                        fprintf(stderr, "cannot create topic %s\n", name);
                        return 1;
                }
        }
        printf("%s\n", rd_kafka_mock_cluster_bootstraps(mock));
        fflush(stdout);
        for (;;)
                pause();
}
