package io.meridian.launcher;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import com.linecorp.armeria.client.WebClient;
import com.linecorp.armeria.common.AggregatedHttpResponse;
import io.meridian.api.v1.Consistency;
import io.meridian.api.v1.RangeRequest;
import io.meridian.client.MeridianClient;
import io.meridian.client.RetryPolicy;
import io.meridian.cluster.DevCluster;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The metrics a user reads about are the metrics the processes serve: docs/metrics.md's tables list
 * every Meridian family a node, a router and a bridge serve and nothing else, every name the README
 * and the other docs mention is in those tables, every family has a HELP text, and a router that
 * served a few hundred requests answers {@code /metrics} in well under 100 KB.
 */
@Tag("cluster")
class MetricsDocsTest {
  private static final Path ROOT = Path.of("..");
  private static final Pattern NAME = Pattern.compile("`(meridian_[a-z0-9_]*\\*?)`");
  private static final Pattern HELP = Pattern.compile("(?m)^# HELP (meridian_\\S+) ?(.*)$");
  private static final String EAST = "us-east";
  private static final String WEST = "us-west";

  @TempDir Path dir;

  @Test
  void everyDocumentedMetricIsServedDescribedAndTheRouterScrapeIsSmall() throws Exception {
    Set<String> documented = tableNames(ROOT.resolve("docs/metrics.md"));
    assertThat(documented)
        .contains("meridian_bridge_lag_seconds", "meridian_router_requests_total");
    for (Path doc : docs()) {
      for (String name : names(Files.readString(doc))) {
        assertThat(covered(name, documented))
            .as("%s names %s, which docs/metrics.md does not list", doc, name)
            .isTrue();
      }
    }

    Map<String, Object> router =
        Map.of(
            "upstream",
            Map.of("request-timeout-ms", 3000, "attempt-timeout-ms", 1000),
            "reads",
            Map.of("region-timeout-ms", 1000, "probe-interval-ms", 100));
    try (DevFederation f =
        DevFederation.start(
            dir,
            new DevFederation.Shape(List.of(EAST, WEST), 2, 1, true),
            Map.of("raft", DevCluster.FAST_ELECTIONS),
            router)) {
      await().atMost(Duration.ofSeconds(60)).until(f::ready);
      String westRouter = f.router(WEST).url();
      try (MeridianClient client =
          MeridianClient.builder()
              .endpoints(westRouter)
              .healthCheckInterval(Duration.ofMillis(200))
              .retry(RetryPolicy.of(Duration.ofMillis(100)))
              .build()) {
        for (int i = 0; i < 300; i++) {
          String key = "/team" + (i % 20) + "/k";
          client.kv().put(key, ByteString.copyFromUtf8("v" + i));
          client.kv().get(key);
        }
        read(client, Consistency.LOCAL);
        read(client, Consistency.CACHED); // a miss
        read(client, Consistency.CACHED); // a hit
        assertThat(http(f.bridge().url(), "/v1/bridge/status").status().code()).isEqualTo(200);

        Map<String, String> scrapes = new TreeMap<>();
        scrapes.put("node", scrape(f.cluster(EAST).node(0).clientUrl()));
        scrapes.put("bridge", scrape(f.bridge().url()));
        String busyRouter = scrape(westRouter);
        assertThat(busyRouter.length())
            .as("the router's /metrics after 600 requests, in characters")
            .isLessThan(100_000);

        // The west region goes away: its router's LOCAL reads fall back to the east.
        f.stopRegion(WEST);
        await()
            .atMost(Duration.ofSeconds(60))
            .ignoreExceptions()
            .until(
                () -> {
                  read(client, Consistency.LOCAL);
                  return scrape(westRouter).contains("meridian_router_fallbacks_total{");
                });
        scrapes.put("router", scrape(westRouter));

        Set<String> served = new TreeSet<>();
        scrapes.forEach(
            (process, text) -> {
              Matcher m = HELP.matcher(text);
              while (m.find()) {
                assertThat(m.group(2).trim())
                    .as("HELP of %s on the %s", m.group(1), process)
                    .isNotEmpty();
                served.add(m.group(1));
              }
            });
        for (String name : documented) {
          assertThat(served.stream().anyMatch(s -> matches(name, s)))
              .as("%s is documented but no process serves it (served: %s)", name, served)
              .isTrue();
        }
        for (String family : served) {
          String base = family.replaceFirst("_max$", "");
          assertThat(covered(base, documented))
              .as("%s is served but docs/metrics.md does not list it", family)
              .isTrue();
        }
      }
    }
  }

  private static void read(MeridianClient client, Consistency consistency) {
    client
        .kv()
        .range(RangeRequest.newBuilder().setKey("/team1/k").setConsistency(consistency).build());
  }

  /** README.md and docs/*.md: the places a user reads metric names. */
  private static List<Path> docs() throws IOException {
    List<Path> docs = new ArrayList<>(List.of(ROOT.resolve("README.md")));
    try (Stream<Path> files = Files.list(ROOT.resolve("docs"))) {
      files
          .filter(p -> p.toString().endsWith(".md") && !p.endsWith("metrics.md"))
          .forEach(docs::add);
    }
    return docs;
  }

  /** The names in the first column of docs/metrics.md's tables. */
  private static Set<String> tableNames(Path metrics) throws IOException {
    Set<String> names = new TreeSet<>();
    for (String line : Files.readAllLines(metrics)) {
      if (line.startsWith("| `meridian_")) {
        names.addAll(names(line.substring(0, line.indexOf('|', 1))));
      }
    }
    return names;
  }

  private static List<String> names(String text) {
    List<String> names = new ArrayList<>();
    Matcher m = NAME.matcher(text);
    while (m.find()) {
      names.add(m.group(1));
    }
    return names;
  }

  /** Whether {@code name} is a documented name, or lies under a documented {@code prefix_*}. */
  private static boolean covered(String name, Set<String> documented) {
    return documented.stream().anyMatch(d -> d.equals(name) || matches(d, name));
  }

  private static boolean matches(String documented, String family) {
    return documented.endsWith("*")
        ? family.startsWith(documented.substring(0, documented.length() - 1))
        : family.equals(documented) || family.equals(documented + "_max");
  }

  private static String scrape(String url) {
    AggregatedHttpResponse r = http(url, "/metrics");
    assertThat(r.status().code()).isEqualTo(200);
    return r.contentUtf8();
  }

  private static AggregatedHttpResponse http(String url, String path) {
    return WebClient.of(url).get(path).aggregate().join();
  }
}
