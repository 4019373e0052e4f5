"""The browsable API's renderer: DRF's, with forms that are always the view's input form."""

from rest_framework import renderers
from rest_framework.utils.serializer_helpers import ReturnDict, ReturnList


class BrowsableAPIRenderer(renderers.BrowsableAPIRenderer):
    """DRF builds the form of a page answering a POST from the answer's own serializer when the answer is
    serializer data (an upload's result, with its nested lists of photos and errors): an output shown as
    an input form, and DRF's templates for nested lists carry style attributes the site's
    Content-Security-Policy refuses. The form is the view's input form instead, as on a GET."""

    def get_rendered_html_form(self, data, view, method, request):
        if isinstance(data, ReturnDict):
            data = dict(data)
        elif isinstance(data, ReturnList):
            data = list(data)
        return super().get_rendered_html_form(data, view, method, request)
