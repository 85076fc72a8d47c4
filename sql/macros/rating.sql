{#
  allowance_of(record_type, zone): which allowance a RATED home CDR may use (rating.md rule 7):
  'VOICE', 'SMS', 'DATA', or null for none. The caller checks that the row is RATED and not
  roaming. gold.rated_cdr uses it for the rows it rates and for the stored rows before them.
#}
{% macro allowance_of(record_type, zone) -%}
CASE
    WHEN {{ record_type }} = 'VOICE_MO' AND {{ zone }} IN ('MA_ONNET', 'MA_MOBILE', 'MA_FIXED') THEN 'VOICE'
    WHEN {{ record_type }} = 'SMS_MO' AND {{ zone }} IN ('MA_ONNET', 'MA_MOBILE', 'MA_FIXED') THEN 'SMS'
    WHEN {{ record_type }} = 'DATA' THEN 'DATA'
END
{%- endmacro %}
