"""Prometheus metrics of the gateway at /metrics, named as docs/operations.md lists them."""

from tests.integration.gateway_stack import gateway


async def test_requests_are_counted_by_route_template_and_status(nats_url, event_prefix,
                                                                 database_url):
    async with gateway(nats_url, event_prefix, database_url) as (c, _):
        await c.get("/v1/files/file-missing")
        await c.get("/health")
        text = (await c.get("/metrics")).text

    assert ('tuneforge_http_requests_total{method="GET",route="/v1/files/{file_id}",'
            'status="404"} 1.0') in text
    assert ('tuneforge_http_request_duration_seconds_bucket{le="0.005",method="GET",'
            'route="/health"}') in text
