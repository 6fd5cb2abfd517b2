"""Property-based requests from the explorer's OpenAPI schema (schemathesis): no 5xx answer, ever.

Every operation gets a bounded number of generated requests (valid and invalid parameters and bodies)
against a real uvicorn server on a loopback port, serving the sample graph.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from tests.unit.test_explorer_api import Server, sample_store

pytestmark = pytest.mark.slow

MAX_EXAMPLES = 8  # per operation: about 80 requests in all


def test_no_server_errors_on_any_operation():
    with Server(sample_store()) as client:
        url = str(client.base_url)
        schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
        operations = [result.ok() for result in schema.get_all_operations()]
        assert {op.path for op in operations} >= {"/api/search", "/api/query", "/api/ask", "/api/ask/stream"}
        for op in operations:
            @given(case=op.as_strategy())
            @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
                      suppress_health_check=list(HealthCheck))
            def check(case) -> None:
                response = case.call_and_validate(base_url=url, checks=[not_a_server_error], timeout=60)
                assert response.status_code < 500, f"{op.method.upper()} {op.path}: {response.text}"

            check()
