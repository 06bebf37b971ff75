-- Apportioning weights of a NAICS code across clusters must sum to 1 per vintage × code.
SELECT naics_vintage, naics, count(*) AS clusters, sum(weight) AS weight_sum
FROM {table}
GROUP BY ALL
HAVING abs(sum(weight) - 1) > $tolerance
ORDER BY naics_vintage, naics
