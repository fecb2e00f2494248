// Proves the gRPC wiring: the generated retrieval.v1 service answers a call
// over a loopback port chosen by the kernel, and the standard health service
// and reflection are available.
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "retrieval/v1/retrieval.grpc.pb.h"

namespace {

class EchoService final : public retrieval::v1::TextImageRetrieval::Service {
  grpc::Status Search(grpc::ServerContext*,
                      const retrieval::v1::SearchRequest* request,
                      retrieval::v1::SearchResponse* response) override {
    if (request->text().empty()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "text: empty");
    }
    auto* hit = response->add_hits();
    hit->set_image_name(request->text() + ".jpg");
    hit->set_score(0.5f);
    response->set_model_version(request->top_k());
    return grpc::Status::OK;
  }
};

TEST(GrpcWiringTest, RoundTripOnLoopbackPortZero) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  EchoService service;
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                           &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  ASSERT_GT(port, 0);

  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                     grpc::InsecureChannelCredentials());
  auto stub = retrieval::v1::TextImageRetrieval::NewStub(channel);
  grpc::ClientContext ctx;
  retrieval::v1::SearchRequest req;
  req.set_text("white audi");
  req.set_top_k(7);
  retrieval::v1::SearchResponse resp;
  grpc::Status st = stub->Search(&ctx, req, &resp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_EQ(resp.hits_size(), 1);
  EXPECT_EQ(resp.hits(0).image_name(), "white audi.jpg");
  EXPECT_EQ(resp.model_version(), 7);

  grpc::ClientContext ctx2;
  req.clear_text();
  st = stub->Search(&ctx2, req, &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  ASSERT_NE(server->GetHealthCheckService(), nullptr);
  server->Shutdown();
}

}  // namespace
