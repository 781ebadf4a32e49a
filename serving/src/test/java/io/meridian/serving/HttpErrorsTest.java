package io.meridian.serving;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.linecorp.armeria.common.HttpResponse;
import com.linecorp.armeria.server.Server;
import io.grpc.stub.StreamObserver;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.KVGrpc;
import io.meridian.api.v1.PutRequest;
import io.meridian.api.v1.PutResponse;
import io.meridian.api.v1.RangeRequest;
import io.meridian.api.v1.RangeResponse;
import io.meridian.api.v1.TxnRequest;
import io.meridian.api.v1.TxnResponse;
import io.meridian.api.v1.WatchCreateRequest;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Every refusal on the HTTP/JSON surface of {@link ApiServer} is a Meridian error body {@code
 * {code, message, details}} that names what was wrong in the caller's terms and no Java class:
 * requests go over real HTTP to a real server serving the KV service's routes and a {@link
 * HttpWatch} (whose body is read by {@link JsonRequests}, as on nodes and routers).
 */
class HttpErrorsTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final HttpClient HTTP = HttpClient.newHttpClient();
  private static final PrometheusMeterRegistry METRICS =
      new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);

  private static Server server;
  private static String url;

  /** Answers every well-formed request with an empty response: only refusals are under test. */
  private static final class EmptyKv extends KVGrpc.KVImplBase {
    @Override
    public void put(PutRequest request, StreamObserver<PutResponse> responses) {
      responses.onNext(PutResponse.getDefaultInstance());
      responses.onCompleted();
    }

    @Override
    public void range(RangeRequest request, StreamObserver<RangeResponse> responses) {
      responses.onNext(RangeResponse.getDefaultInstance());
      responses.onCompleted();
    }

    @Override
    public void txn(TxnRequest request, StreamObserver<TxnResponse> responses) {
      responses.onNext(TxnResponse.getDefaultInstance());
      responses.onCompleted();
    }
  }

  @BeforeAll
  static void start() {
    server =
        ApiServer.serve(Server.builder().http(0), List.of(new EmptyKv()), METRICS, "test.request")
            .annotatedService(
                new HttpWatch(
                    (ctx, req) ->
                        HttpResponse.of(
                            req.aggregate()
                                .thenApply(
                                    body -> {
                                      try {
                                        JsonRequests.parse(
                                            body.contentUtf8(), WatchCreateRequest.newBuilder());
                                        return HttpResponse.of(200);
                                      } catch (MeridianException e) {
                                        return GrpcErrors.httpResponse(e.toError());
                                      }
                                    })),
                    (ctx, req) -> HttpResponse.of(200)))
            .build();
    server.start().join();
    url = "http://127.0.0.1:" + ApiServer.port(server);
  }

  @AfterAll
  static void stop() {
    server.stop().join();
    METRICS.close();
  }

  /** Sends the request and checks the error's shape; returns the error. */
  private static JsonNode refused(String method, String path, String body, int status, String code)
      throws Exception {
    HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(url + path));
    if (body == null) {
      request.method(method, HttpRequest.BodyPublishers.noBody());
    } else {
      request
          .method(method, HttpRequest.BodyPublishers.ofString(body))
          .header("Content-Type", "application/json");
    }
    java.net.http.HttpResponse<String> response =
        HTTP.send(request.build(), java.net.http.HttpResponse.BodyHandlers.ofString());
    String answer = response.body();
    assertThat(response.statusCode())
        .as("%s %s %s -> %s", method, path, body, answer)
        .isEqualTo(status);
    assertThat(response.headers().firstValue("content-type"))
        .hasValueSatisfying(type -> assertThat(type).startsWith("application/json"));
    assertThat(answer).doesNotContain("java.", "com.google", "Exception", "StreamReadFeature");
    JsonNode error = JSON.readTree(answer);
    assertThat(error.path("code").asText()).as(answer).isEqualTo(code);
    assertThat(error.path("message").asText()).as(answer).isNotBlank();
    return error;
  }

  private static String message(JsonNode error) {
    return error.path("message").asText();
  }

  @Test
  void anUnknownPathIsNotFoundNamingThePath() throws Exception {
    JsonNode error = refused("POST", "/v1/kv/putt", "{}", 404, "NOT_FOUND");
    assertThat(message(error)).contains("/v1/kv/putt");
    assertThat(error.path("details").path("path").asText()).isEqualTo("/v1/kv/putt");
    refused("GET", "/v2/anything?x=1", null, 404, "NOT_FOUND");
  }

  @Test
  void aWrongMethodNamesTheMethodThePathTakes() throws Exception {
    assertThat(message(refused("GET", "/v1/kv/put", null, 405, "METHOD_NOT_ALLOWED")))
        .startsWith("use POST for /v1/kv/put");
    assertThat(message(refused("GET", HttpWatch.PATH, null, 405, "METHOD_NOT_ALLOWED")))
        .startsWith("use POST for /v1/watch");
  }

  @Test
  void malformedJsonSaysSoWithoutTheParsersClassNames() throws Exception {
    for (String path : List.of("/v1/kv/put", HttpWatch.PATH)) {
      assertThat(message(refused("POST", path, "{\"key\":", 400, "INVALID_ARGUMENT")))
          .startsWith("malformed JSON: ")
          .contains("line 1");
      assertThat(message(refused("POST", path, "[1]", 400, "INVALID_ARGUMENT")))
          .startsWith("malformed JSON: ");
    }
  }

  @Test
  void aBytesFieldThatIsNotBase64IsNamed() throws Exception {
    assertThat(
            message(
                refused(
                    "POST",
                    "/v1/kv/put",
                    "{\"key\":\"/a/b\",\"value\":\"not base64!\"}",
                    400,
                    "INVALID_ARGUMENT")))
        .isEqualTo("value: not base64");
    assertThat(
            message(
                refused(
                    "POST",
                    "/v1/kv/txn",
                    "{\"success\":[{\"requestPut\":{\"key\":\"/a\",\"value\":\"%%\"}}]}",
                    400,
                    "INVALID_ARGUMENT")))
        .isEqualTo("success[0].requestPut.value: not base64");
  }

  @Test
  void anUnknownEnumValueIsNamedWithTheValidValues() throws Exception {
    assertThat(
            message(
                refused(
                    "POST",
                    "/v1/kv/range",
                    "{\"key\":\"/a/b\",\"consistency\":\"BOGUS\"}",
                    400,
                    "INVALID_ARGUMENT")))
        .startsWith("consistency: \"BOGUS\"")
        .contains("LINEARIZABLE", "SERIALIZABLE", "LOCAL", "CACHED");
  }

  @Test
  void aWrongTypeOrAnUnknownFieldIsNamed() throws Exception {
    assertThat(
            message(
                refused(
                    "POST",
                    "/v1/kv/range",
                    "{\"key\":\"/a/b\",\"limit\":\"ten\"}",
                    400,
                    "INVALID_ARGUMENT")))
        .isEqualTo("limit: \"ten\" (expected: an integer)");
    assertThat(
            message(
                refused(
                    "POST",
                    "/v1/kv/range",
                    "{\"key\":\"/a/b\",\"colour\":1}",
                    400,
                    "INVALID_ARGUMENT")))
        .startsWith("colour: unknown field of RangeRequest");
    assertThat(
            message(
                refused(
                    "POST",
                    HttpWatch.PATH,
                    "{\"key\":\"/a\",\"startRevision\":\"x\"}",
                    400,
                    "INVALID_ARGUMENT")))
        .isEqualTo("startRevision: \"x\" (expected: an integer)");
  }

  @Test
  void docsDescribeFieldsFromTheProtoCommentsAndListTheWatches() throws Exception {
    String spec =
        HTTP.send(
                HttpRequest.newBuilder(URI.create(url + "/docs/specification.json")).build(),
                java.net.http.HttpResponse.BodyHandlers.ofString())
            .body();
    assertThat(spec)
        .as("PutRequest.lease's comment in kv.proto")
        .contains("Attach the key to this lease; 0 for none.")
        .contains("io.meridian.serving.HttpWatch")
        .contains(HttpWatch.PATH)
        .contains(HttpWatch.REGISTRY_PATH);
  }
}
