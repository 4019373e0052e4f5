"""moto's server plus the one Lambda call `zappa update` makes that moto 5.2 does not route.

`zappa update` (without function URLs) lists the function's URL configs to remove stale ones; moto has
Get/Create/Delete FunctionUrlConfig but not ListFunctionUrlConfigs, and answers 404. Run as
`python -m tests.lambda_package.moto_server -H 127.0.0.1 -p PORT`, like `python -m moto.server`.
"""

import json
from urllib.parse import unquote

from moto.awslambda import urls
from moto.awslambda.responses import LambdaResponse
from moto.server import main

LIST_URL_CONFIGS_PATH = r"{0}/(?P<api_version>[^/]+)/functions/(?P<function_name>[\w_:%-]+)/urls/?$"


def list_function_url_configs(self):
    """ListFunctionUrlConfigs over moto's own store (a function has at most one unqualified URL here)."""
    name_or_arn = unquote(self.path.split("/")[-2])
    function = self.backend._lambdas.get_function_by_name_or_arn_forbid_qualifier(name_or_arn)
    configs = [function.url_config.to_dict()] if function.url_config else []
    return 200, {}, json.dumps({"FunctionUrlConfigs": configs})


LambdaResponse.list_function_url_configs = list_function_url_configs
urls.url_paths[LIST_URL_CONFIGS_PATH] = LambdaResponse.dispatch

if __name__ == "__main__":
    main()
